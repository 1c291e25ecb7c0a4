// Minimal typings for @xmpp/component 0.13 (the package ships none): only what the bridge uses.
declare module '@xmpp/component' {
  import type { EventEmitter } from 'node:events';

  export interface XmlElement {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<XmlElement | string>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildren(name: string, xmlns?: string): XmlElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    toString(): string;
  }

  export function xml(
    name: string,
    attrs?: Record<string, string | undefined> | null,
    ...children: Array<XmlElement | string>
  ): XmlElement;

  export interface Reconnect extends EventEmitter {
    delay: number;
    stop(): void;
  }

  export interface IqCaller {
    /** Sends an iq and resolves with the result; rejects with a `StanzaError` on an error. */
    request(stanza: XmlElement, timeoutMs?: number): Promise<XmlElement>;
  }

  export interface Component extends EventEmitter {
    status: string;
    reconnect: Reconnect;
    iqCaller: IqCaller;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: XmlElement): Promise<void>;
  }

  export function component(options: {
    service: string;
    domain: string;
    password: string;
  }): Component;
}
