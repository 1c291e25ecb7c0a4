// A minimal XMPP client (RFC 6120) for the demo: plain TCP on loopback, SASL PLAIN, resource
// binding, presence, and messages carrying a Switchboard envelope (docs/bridge.md, Containers).
import { connect } from 'node:net';
import xml from '@xmpp/xml';
import { Buffer } from 'node:buffer';
import { clearTimeout, setTimeout } from 'node:timers';

const ENVELOPE_NS = 'urn:switchboard:envelope:1';
const EME_NS = 'urn:xmpp:eme:0';

export class XmppChat {
  #socket;
  #parser;
  #inbox = [];
  #waiters = [];
  #onElement = () => undefined;

  /** `user@domain` with `password`, at 127.0.0.1:`port`. */
  constructor(jid, password, port) {
    this.jid = jid;
    [this.user, this.domain] = jid.split('@');
    this.password = password;
    this.port = port;
  }

  /** Connects, authenticates, binds and sends presence; rejects after `timeoutMs`. */
  async connect(timeoutMs = 30_000) {
    this.#socket = connect({ host: '127.0.0.1', port: this.port });
    this.#socket.on('data', (chunk) => this.#parser.write(chunk.toString('utf8')));
    const timer = setTimeout(
      () => this.#socket.destroy(new Error('XMPP login timed out')),
      timeoutMs,
    );
    try {
      await new Promise((resolve, reject) => {
        this.#socket.once('connect', resolve);
        this.#socket.once('error', reject);
      });
      this.#openStream();
      await this.#expect((el) => el.is('features'));
      const plain = Buffer.from(`\0${this.user}\0${this.password}`).toString('base64');
      this.#send(
        `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain}</auth>`,
      );
      const auth = await this.#expect((el) => el.is('success') || el.is('failure'));
      if (auth.is('failure')) throw new Error(`XMPP login of ${this.jid} refused`);
      this.#openStream();
      await this.#expect((el) => el.is('features'));
      this.#send(
        "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>demo</resource></bind></iq>",
      );
      const bound = await this.#expect((el) => el.is('iq') && el.attrs.id === 'bind');
      if (bound.attrs.type !== 'result') throw new Error('XMPP resource binding failed');
      this.#onElement = (el) => this.#stanza(el);
      this.#send('<presence/>');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends an envelope (its base64 text form) to `to`. */
  sendEnvelope(to, envelopeText, id) {
    const stanza = xml(
      'message',
      { to, type: 'chat', id },
      xml('envelope', { xmlns: ENVELOPE_NS }, envelopeText),
      xml('encryption', { xmlns: EME_NS, namespace: ENVELOPE_NS, name: 'Switchboard' }),
      xml('body', {}, 'This message is end-to-end encrypted with Switchboard.'),
    );
    this.#send(stanza.toString());
  }

  /** The next message with an envelope or an error, within `timeoutMs`. */
  next(timeoutMs = 60_000) {
    const ready = this.#inbox.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.jid} received nothing in time`)),
        timeoutMs,
      );
      this.#waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  close() {
    if (!this.#socket || this.#socket.destroyed) return;
    this.#socket.end('</stream:stream>');
  }

  #openStream() {
    this.#parser = new xml.Parser();
    this.#parser.on('element', (el) => this.#onElement(el));
    this.#parser.on('error', (err) => this.#socket.destroy(err));
    this.#send(
      `<?xml version='1.0'?><stream:stream to='${this.domain}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
    );
  }

  #expect(match) {
    return new Promise((resolve, reject) => {
      this.#socket.once('close', () => reject(new Error('the XMPP server closed the stream')));
      this.#onElement = (el) => {
        if (match(el)) resolve(el);
      };
    });
  }

  #stanza(el) {
    if (!el.is('message')) return;
    const envelope = el.getChild('envelope', ENVELOPE_NS);
    const error = el.getChild('error');
    if (!envelope && !error) return;
    const received = {
      from: el.attrs.from,
      envelope: envelope?.getText(),
      error: error?.children?.[0]?.name,
    };
    const waiter = this.#waiters.shift();
    if (waiter) waiter(received);
    else this.#inbox.push(received);
  }

  #send(text) {
    this.#socket.write(text);
  }
}
