// A second real client against the MUC face: xmpp.js (@xmpp/client 0.14,
// npm) enters a channel as two MUC occupants, exchanges groupchat messages,
// kicks one (muc#admin) and reads the room configuration form (muc#owner).
// Manual check, not part of the test suite:
//
//   npm install @xmpp/client@0.14.0
//   mixd --config mixd.toml user import   # hag66@localhost pw-hag66, hecate@localhost pw-hecate
//   mixd --config mixd.toml channel create coven@mix.localhost --owner hag66@localhost
//   mixd --config mixd.toml run &          # c2s.port = 25822 on 127.0.0.1
//   NODE_TLS_REJECT_UNAUTHORIZED=0 node xmppjs_muc_check.mjs   # self-signed certificate
//
// Expected output: both enter (hag66 as owner/moderator), each gets the
// other's message from coven@mix.localhost/<nick>, the kick is a result and
// hecate sees codes 110,307 with the reason, and the form has 14 fields.
import { client, xml } from "@xmpp/client";

const ROOM = "coven@mix.localhost";
function connect(user) {
  const c = client({ service: "xmpp://127.0.0.1:25822", domain: "localhost", resource: "js", username: user, password: "pw-" + user });
  c.on("error", (e) => console.error(user, "error", e.message));
  return c;
}
function waitFor(c, pred, label) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("timeout waiting for " + label)), 10000);
    const h = (s) => { if (pred(s)) { clearTimeout(t); c.removeListener("stanza", h); resolve(s); } };
    c.on("stanza", h);
  });
}
const hag = connect("hag66"), hecate = connect("hecate");
await hag.start(); await hecate.start();
await hag.send(xml("presence")); await hecate.send(xml("presence"));
const hagIn = waitFor(hag, (s) => s.is("presence") && s.attrs.from === ROOM + "/witch" && s.getChild("x", "http://jabber.org/protocol/muc#user")?.getChildren("status").some((st) => st.attrs.code === "110"), "hag self-presence");
await hag.send(xml("presence", { to: ROOM + "/witch" }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
const own = await hagIn;
console.log("hag entered:", own.getChild("x", "http://jabber.org/protocol/muc#user").getChild("item").attrs);
const hecateIn = waitFor(hecate, (s) => s.is("presence") && s.attrs.from === ROOM + "/hecate", "hecate self-presence");
await hecate.send(xml("presence", { to: ROOM + "/hecate" }, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxstanzas: "0" }))));
await hecateIn;
console.log("hecate entered");
const got = waitFor(hecate, (s) => s.is("message") && s.getChildText("body") === "Fair is foul", "message");
await hag.send(xml("message", { to: ROOM, type: "groupchat" }, xml("body", {}, "Fair is foul")));
const m = await got;
console.log("hecate got from", m.attrs.from, ":", m.getChildText("body"));
const back = waitFor(hag, (s) => s.is("message") && s.getChildText("body") === "and foul is fair", "reply");
await hecate.send(xml("message", { to: ROOM, type: "groupchat" }, xml("body", {}, "and foul is fair")));
console.log("hag got from", (await back).attrs.from);
const kicked = waitFor(hecate, (s) => s.is("presence") && s.attrs.type === "unavailable", "kick");
const result = await hag.iqCaller.request(xml("iq", { type: "set", to: ROOM }, xml("query", { xmlns: "http://jabber.org/protocol/muc#admin" }, xml("item", { nick: "hecate", role: "none" }, xml("reason", {}, "Avaunt")))));
console.log("kick result:", result.attrs.type);
const k = await kicked;
const x = k.getChild("x", "http://jabber.org/protocol/muc#user");
console.log("hecate kicked, codes:", x.getChildren("status").map((s) => s.attrs.code).join(","), "reason:", x.getChild("item").getChildText("reason"));
const form = await hag.iqCaller.request(xml("iq", { type: "get", to: ROOM }, xml("query", { xmlns: "http://jabber.org/protocol/muc#owner" })));
console.log("config fields:", form.getChild("query").getChild("x", "jabber:x:data").getChildren("field").map((f) => f.attrs.var).filter((v) => v).length);
await hag.stop(); await hecate.stop();
