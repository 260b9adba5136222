// The admin desk (/admin): payments needing attention, refunds, invoices, suspensions, lots.
// Plain REST against the public API; every section reloads after an action.
import { h } from "../dom.js";
import { Invoices } from "./admin_invoices.js";
import { LotControls } from "./admin_lots.js";
import { Suspensions } from "./admin_people.js";
import { AttentionList, RefundList } from "./admin_payments.js";
import { $, LotTitles, MessageLine, reportReload, startDesk } from "./common.js";
import { deskErrorText } from "./errors.js";

const messages = new MessageLine($("messages"));
const titles = new LotTitles();
let sections = [];

async function reload(focusHeading = null) {
  const mine = sections;
  const results = await Promise.allSettled(mine.map((section) => section.load()));
  if (mine !== sections) return; // signed out (or in as someone else) meanwhile
  reportReload(results, messages, deskErrorText);
  // The control that was pressed is gone after a reload: the section's heading takes focus.
  if (focusHeading && (!document.activeElement || document.activeElement === document.body)) {
    focusHeading.focus();
  }
}

function build() {
  const common = { messages, titles, onChanged: reload };
  sections = [
    new AttentionList({ root: $("attention"), heading: $("attention-heading"), ...common }),
    new RefundList({ root: $("refunds"), heading: $("refunds-heading"), ...common }),
    new Invoices({ root: $("invoices"), heading: $("invoices-heading"), ...common }),
    new Suspensions({ root: $("users"), heading: $("users-heading"), ...common }),
    new LotControls({ root: $("lots"), heading: $("lots-heading"), ...common }),
  ];
}

async function onUser(user) {
  const desk = $("desk");
  const gate = $("gate");
  messages.clear();
  if (!user || user.role !== "admin") {
    sections = [];
    desk.hidden = true;
    gate.hidden = false;
    gate.replaceChildren(
      user
        ? h("span", { text: `You are signed in as ${user.name || user.sub}, a ${user.role}. This desk is for admins.` })
        : h("span", { text: "Sign in as an admin to use this desk." }),
    );
    return;
  }
  gate.hidden = true;
  desk.hidden = false;
  build();
  await reload();
}

$("refresh").addEventListener("click", async () => {
  await reload();
  messages.say("The desk is up to date.");
});

startDesk({ role: "admin", guestText: "Not signed in.", onUser, messages });
