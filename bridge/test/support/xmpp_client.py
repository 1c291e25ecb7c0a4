#!/usr/bin/env python3
"""A real XMPP client (slixmpp) for the bridge's integration tests.

Reads JSON commands on stdin ({"cmd": "send", "to": ..., "envelope": b64 | "body": text,
"id": ...} or {"cmd": "quit"}) and prints JSON events on stdout (ready, message, receipt,
error, disconnected). Reconnects when the server goes away, as a real client would.
"""
import asyncio
import json
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

ENVELOPE_NS = "urn:switchboard:envelope:1"
SECURITY_NS = "urn:switchboard:security:1"
RECEIPTS_NS = "urn:xmpp:receipts"


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, host, port):
        super().__init__(jid, password)
        self.host = host
        self.port = port
        self.quitting = False
        self['feature_mechanisms'].unencrypted_plain = True
        self.add_event_handler("session_start", self.on_start)
        # The "message" event fires only for stanzas with a body; receipts and errors have none.
        self.register_handler(Callback("any message", MatchXPath("{jabber:client}message"), self.on_message))
        self.register_handler(Callback("any presence", MatchXPath("{jabber:client}presence"), self.on_presence))
        self.add_event_handler("disconnected", self.on_disconnected)

    def go(self):
        self.connect((self.host, self.port), force_starttls=False, disable_starttls=True)

    async def on_start(self, _event):
        self.send_presence()
        emit({"event": "ready"})

    def on_disconnected(self, _event):
        emit({"event": "disconnected"})
        if not self.quitting:
            self.loop.call_later(0.5, self.go)

    def on_presence(self, pres):
        emit({"event": "presence", "from": str(pres["from"].bare), "type": pres["type"]})

    def on_message(self, msg):
        xml = msg.xml
        if msg["type"] == "error":
            err = xml.find("{jabber:client}error")
            condition = None
            text = None
            if err is not None:
                for child in err:
                    tag = child.tag.split("}")[-1]
                    if tag == "text":
                        text = child.text
                    else:
                        condition = tag
            emit({"event": "error", "from": str(msg["from"]), "id": msg["id"],
                  "condition": condition, "text": text})
            return
        displayed = xml.find("{urn:xmpp:chat-markers:0}displayed")
        if displayed is not None:
            emit({"event": "displayed", "from": str(msg["from"].bare), "id": displayed.get("id")})
            return
        received = xml.find("{%s}received" % RECEIPTS_NS)
        if received is not None:
            sec = xml.find("{%s}security" % SECURITY_NS)
            emit({"event": "receipt", "from": str(msg["from"]), "id": received.get("id"),
                  "security": sec.get("level") if sec is not None else None})
            return
        for state in ("composing", "active", "paused"):
            if xml.find("{http://jabber.org/protocol/chatstates}%s" % state) is not None and xml.find("{jabber:client}body") is None:
                emit({"event": "chatstate", "from": str(msg["from"].bare), "state": state})
                return
        env = xml.find("{%s}envelope" % ENVELOPE_NS)
        body = xml.find("{jabber:client}body")
        if env is None and body is None:
            return
        sec = xml.find("{%s}security" % SECURITY_NS)
        emit({
            "event": "message",
            "from": str(msg["from"].bare),
            "id": msg["id"],
            "envelope": env.text if env is not None else None,
            "body": body.text if body is not None else None,
            "security": sec.get("level") if sec is not None else None,
        })
        if xml.find("{%s}request" % RECEIPTS_NS) is not None and msg["id"]:
            ack = self.make_message(mto=msg["from"], mfrom=self.boundjid)
            ack.append(ET.fromstring('<received xmlns="%s" id="%s"/>' % (RECEIPTS_NS, msg["id"])))
            ack.send()

    def send_cmd(self, cmd):
        msg = self.make_message(mto=cmd["to"], mtype="chat")
        if cmd.get("id"):
            msg["id"] = cmd["id"]
        if cmd.get("envelope") is not None:
            el = ET.Element("{%s}envelope" % ENVELOPE_NS)
            el.text = cmd["envelope"]
            msg.append(el)
        if cmd.get("body") is not None:
            msg["body"] = cmd["body"]
        msg.append(ET.Element("{%s}request" % RECEIPTS_NS))
        msg.send()


async def read_stdin(client):
    loop = asyncio.get_event_loop()
    # Commands carry envelopes of up to 256 KiB (350 KB as base64): past the 64 KiB default.
    reader = asyncio.StreamReader(limit=4 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        if cmd["cmd"] == "send":
            try:
                client.send_cmd(cmd)
                emit({"event": "sent", "id": cmd.get("id")})
            except Exception as exc:  # keep serving commands; report what failed
                emit({"event": "send-failed", "id": cmd.get("id"), "error": repr(exc)})
        elif cmd["cmd"] == "displayed":
            marker = client.make_message(mto=cmd["to"], mtype="chat")
            marker.append(ET.fromstring('<displayed xmlns="urn:xmpp:chat-markers:0" id="%s"/>' % cmd["id"]))
            marker.send()
            emit({"event": "sent-displayed"})
        elif cmd["cmd"] == "chatstate":
            state = client.make_message(mto=cmd["to"], mtype="chat")
            state.append(ET.Element("{http://jabber.org/protocol/chatstates}%s" % cmd["state"]))
            state.send()
            emit({"event": "sent-chatstate"})
        elif cmd["cmd"] == "presence":
            client.send_presence(pto=cmd["to"], ptype=cmd.get("type"))
            emit({"event": "sent-presence"})
        elif cmd["cmd"] == "quit":
            break
    client.quitting = True
    client.disconnect()
    await asyncio.sleep(0.2)
    loop.stop()


def main():
    jid, password, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = Client(jid, password, host, port)
    client.go()
    # asyncio keeps only weak references to tasks: hold this one or it is collected mid-run.
    client.stdin_task = client.loop.create_task(read_stdin(client))
    client.loop.run_forever()


if __name__ == "__main__":
    main()
