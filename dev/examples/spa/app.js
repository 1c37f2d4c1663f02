// A single-page app on its own origin (http://app.example.test:PORT) that signs in
// through Ory's browser flows, in JSON, and then calls the API on another origin
// (http://api.example.test:PORT) with Ory's session cookie. The page never sees a
// token or the cookie (HttpOnly): the browser sends the cookie because every request
// says credentials: "include", and because Ory set it for the parent domain
// (example.test) that the API is under. See docs/browser.md.
"use strict";

const { ory, api } = window.SPA_CONFIG;
const $ = (id) => document.getElementById(id);

// call fetches base+path with the cookies and asks for JSON (Ory's browser flows answer
// JSON instead of redirecting when asked). It returns the status and the JSON body.
async function call(base, path, init = {}) {
  const res = await fetch(base + path, {
    ...init,
    credentials: "include",
    headers: { Accept: "application/json", ...(init.headers || {}) },
  });
  const type = res.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await res.json() : null;
  return { status: res.status, body };
}

function show(...ids) {
  for (const id of ["signed-out", "flow", "signed-in", "sessions", "error"]) {
    $(id).hidden = !ids.includes(id);
  }
}

function setState(state) {
  $("state").dataset.state = state;
  $("state").textContent = state;
}

function signedOut(reason) {
  setState("signed-out");
  show("signed-out");
  $("signed-out-reason").textContent = reason || "";
}

function fail(what, body) {
  setState("error");
  show("error");
  $("error").textContent = `${what}: ${body ? JSON.stringify(body) : "no body"}`;
}

// --- the API, with the cookie ------------------------------------------------

// loadResource is the whole "am I signed in?" check: the API answers 401 without a
// valid Ory session cookie, and the identity from the session otherwise.
async function loadResource() {
  const r = await call(api, "/api/resource");
  if (r.status === 401) return signedOut("The API answered 401: no valid Ory session.");
  if (r.status !== 200) return fail(`GET /api/resource answered ${r.status}`, r.body);
  setState("signed-in");
  show("signed-in");
  $("email").textContent = (r.body.traits && r.body.traits.email) || "";
  $("identity").textContent = r.body.identity_id;
  $("session").textContent = r.body.session_id;
  $("aal").textContent = r.body.aal || "";
}

async function listSessions() {
  const r = await call(api, "/api/me/sessions");
  if (r.status === 401) return signedOut("The API answered 401: the session has ended.");
  if (r.status !== 200) return fail(`GET /api/me/sessions answered ${r.status}`, r.body);
  const rows = $("session-rows");
  rows.replaceChildren();
  for (const s of r.body.sessions) {
    const tr = document.createElement("tr");
    tr.dataset.sessionId = s.id;
    tr.dataset.current = String(s.current);
    const device = (s.devices[0] && s.devices[0].user_agent) || "";
    const since = s.authenticated_at ? new Date(s.authenticated_at).toISOString().slice(0, 19).replace("T", " ") : "";
    for (const text of [s.id.slice(0, 8) + (s.current ? " (this one)" : ""), since, device.slice(0, 40)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    const revoke = document.createElement("button");
    revoke.textContent = "Revoke";
    revoke.className = "revoke";
    revoke.onclick = guarded(() => revokeSession(s.id));
    const td = document.createElement("td");
    td.append(revoke);
    tr.append(td);
    rows.append(tr);
  }
  $("sessions").hidden = false;
  $("sessions").dataset.count = String(r.body.sessions.length);
}

// revokeSession revokes one of the caller's sessions, this one included; the list is
// read again, which for this session is the 401 that signs the page out.
async function revokeSession(id) {
  const r = await call(api, "/api/me/sessions/" + encodeURIComponent(id), { method: "DELETE" });
  if (r.status !== 204 && r.status !== 401) return fail(`DELETE /api/me/sessions/${id} answered ${r.status}`, r.body);
  await listSessions();
}

// --- Ory's browser flows, in JSON ---------------------------------------------

// startFlow creates a login or registration flow; Ory also sets its CSRF cookie, which
// goes back with the form together with the csrf_token node's value.
async function startFlow(kind) {
  const r = await call(ory, `/self-service/${kind}/browser`);
  if (r.status === 400 && r.body && r.body.error && r.body.error.id === "session_already_available") {
    return loadResource();
  }
  if (r.status !== 200) return fail(`${kind} flow answered ${r.status}`, r.body);
  renderFlow(kind, r.body);
}

// renderFlow draws the form from the flow's ui.nodes, with Ory's messages: the flow's
// own (wrong password) and each field's (an email that is taken, a weak password).
function renderFlow(kind, flow) {
  setState(kind);
  show("flow");
  $("flow-title").textContent = kind === "login" ? "Sign in" : "Sign up";
  renderMessages($("flow-messages"), flow.ui.messages);
  const form = $("flow-form");
  form.replaceChildren();
  for (const node of flow.ui.nodes) {
    if (node.type !== "input") continue;
    const a = node.attributes;
    if (a.type === "submit") {
      const b = document.createElement("button");
      b.type = "submit";
      b.name = a.name;
      b.value = a.value;
      b.textContent = (node.meta.label && node.meta.label.text) || a.value;
      form.append(b);
      continue;
    }
    const input = document.createElement("input");
    input.name = a.name;
    input.type = a.type;
    if (a.value !== undefined) input.value = a.value;
    if (a.required) input.required = true;
    if (a.autocomplete) input.autocomplete = a.autocomplete;
    if (a.type === "hidden") {
      form.append(input);
      continue;
    }
    const label = document.createElement("label");
    const span = document.createElement("span");
    span.textContent = (node.meta.label && node.meta.label.text) || a.name;
    const msgs = document.createElement("ul");
    msgs.className = "messages";
    renderMessages(msgs, node.messages);
    label.append(span, input, msgs);
    form.append(label);
  }
  form.onsubmit = (e) => {
    e.preventDefault();
    guarded(() => submitFlow(kind, flow, e.submitter))();
  };
}

function renderMessages(ul, messages) {
  ul.replaceChildren();
  for (const m of messages || []) {
    const li = document.createElement("li");
    li.textContent = m.text;
    li.className = m.type;
    li.dataset.messageId = String(m.id);
    ul.append(li);
  }
}

// submitFlow posts the form as JSON to the flow's action. Dotted names (traits.email)
// become nested objects, the shape Ory's JSON API takes.
async function submitFlow(kind, flow, submitter) {
  const body = {};
  for (const input of $("flow-form").querySelectorAll("input")) {
    if (input.value !== "") setPath(body, input.name, input.value);
  }
  if (submitter && submitter.name) setPath(body, submitter.name, submitter.value);
  const action = new URL(flow.ui.action);
  const r = await call(action.origin, action.pathname + action.search, {
    method: flow.ui.method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (r.status === 200) return loadResource();
  if (r.status === 400 && r.body && r.body.ui) return renderFlow(kind, r.body);
  if (r.status === 410) return startFlow(kind); // the flow expired: a new one
  fail(`${kind} answered ${r.status}`, r.body);
}

function setPath(obj, name, value) {
  const keys = name.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] = o[k] || {};
  o[keys[keys.length - 1]] = value;
}

// signOut is Ory's browser logout flow: a logout token for this session's cookie, then
// the logout call, which revokes the session and clears the cookie.
async function signOut() {
  const r = await call(ory, "/self-service/logout/browser");
  if (r.status === 401) return signedOut("Already signed out.");
  if (r.status !== 200) return fail(`logout flow answered ${r.status}`, r.body);
  const done = await call(ory, "/self-service/logout?token=" + encodeURIComponent(r.body.logout_token));
  if (done.status !== 204) return fail(`logout answered ${done.status}`, done.body);
  await loadResource();
}

$("origins").textContent = `page ${location.origin} · API ${api} · Ory ${ory}`;
// A fetch that rejects is the browser refusing the answer (CORS: an origin, a
// header or credentials the server did not allow) or no connection at all; the
// browser's console says which.
const guarded = (f) => () => f().catch((e) => fail("request refused by the browser (see its console)", { error: String(e) }));
$("signin").onclick = guarded(() => startFlow("login"));
$("signup").onclick = guarded(() => startFlow("registration"));
$("refresh").onclick = guarded(loadResource);
$("list-sessions").onclick = guarded(listSessions);
$("signout").onclick = guarded(signOut);
guarded(loadResource)();
