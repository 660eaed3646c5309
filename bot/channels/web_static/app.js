// linli web chat client: plain ES2020, no dependencies.
"use strict";

const $ = (sel) => document.querySelector(sel);
const STORE_KEY = "linli.persona";
const GUEST = "__guest__";

const el = {
  persona: $("#persona"), personaWrap: $("#persona-wrap"), menu: $("#menu"),
  list: $("#messages"), notice: $("#notice"), input: $("#input"),
  send: $("#send"), form: $("#composer"), counter: $("#counter"), title: $("#title"),
  photo: $("#photo"),
  file: $("#file"),
};

let config = { demo: false, user: null, personas: [], poll_ms: 1500, max_text: 4000, title: "邻里" };
// One "session" per active user; stale async results compare against it and bail out.
let session = null;
let pollTimer = null;
let sendChain = Promise.resolve();  // serialises POSTs so replies keep their order
const greeted = new Set();          // users we already auto-sent /start to

// ---------- helpers ----------

function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  if (window.crypto?.getRandomValues) crypto.getRandomValues(a);
  else for (let i = 0; i < bytes; i++) a[i] = Math.floor(Math.random() * 256);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

function newClientId() {
  // randomUUID only exists in secure contexts; plain http over a LAN IP needs the fallback.
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  const h = randomHex(16).split("");
  h[12] = "4";
  h[16] = "89ab"[parseInt(h[16], 16) & 3];
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

function formatTime(date) {
  const pad = (n) => String(n).padStart(2, "0");
  const hm = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  // Older history gets a date prefix so "08:00" is not ambiguous.
  if (date.toDateString() === new Date().toDateString()) return hm;
  return `${date.getMonth() + 1}月${date.getDate()}日 ${hm}`;
}

function showNotice(text) {
  el.notice.querySelector(".notice-text").textContent = text;
  el.notice.hidden = false;
}
function clearNotice() { el.notice.hidden = true; }

function chatUrl(user) { return `/api/chat/${encodeURIComponent(user)}/messages`; }

async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body?.error) return String(body.error);
  } catch (_) { /* not JSON */ }
  return `请求失败（HTTP ${resp.status}），请稍后再试`;
}

// ---------- rendering ----------

function nearBottom() {
  const l = el.list;
  return l.scrollHeight - l.scrollTop - l.clientHeight < 120;
}
function scrollToEnd() { el.list.scrollTop = el.list.scrollHeight; }

// When the list box shrinks (notice banner, on-screen keyboard, taller textarea),
// stay pinned to the newest message if the reader was already there.
let pinned = true;
el.list.addEventListener("scroll", () => { pinned = nearBottom(); }, { passive: true });
if (window.ResizeObserver) new ResizeObserver(() => { if (pinned) scrollToEnd(); }).observe(el.list);

function bubble(kind, text, when) {
  const node = document.createElement("div");
  node.className = `msg ${kind}`;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text ?? "";
  const meta = document.createElement("time");
  meta.className = "meta";
  let d = when ? new Date(when) : new Date();
  if (isNaN(d)) d = new Date();
  meta.dateTime = d.toISOString();
  meta.textContent = formatTime(d);
  node.append(body, meta);
  return node;
}

function addImage(node, src) {
  const img = document.createElement("img");
  img.className = "photo";
  img.alt = "照片";
  img.loading = "lazy";
  img.src = src;
  node.insertBefore(img, node.querySelector(".text"));
}

// A document (a notice's PDF) is a link under the text: opens or downloads it.
function addDocument(node, name, href) {
  const link = document.createElement("a");
  link.className = "document";
  link.textContent = `📎 ${name}`;
  if (href) {
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener";
  }
  node.querySelector(".text").after(link);
}

function renderBot(msg) {
  const stick = nearBottom();
  const node = bubble("bot", msg.text, msg.at);
  if (msg.ref !== undefined && msg.ref !== null) node.dataset.ref = String(msg.ref);
  if (msg.photo) addImage(node, msg.photo);
  if (msg.document && msg.document.name) addDocument(node, msg.document.name, msg.document.url);
  const rows = Array.isArray(msg.buttons) ? msg.buttons.filter((r) => Array.isArray(r) && r.length) : [];
  if (rows.length) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of rows) {
      const rowEl = document.createElement("div");
      rowEl.className = "row";
      for (const b of row) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.text ?? "";
        btn.setAttribute("data-data", b.data ?? "");
        rowEl.append(btn);
      }
      box.append(rowEl);
    }
    node.insertBefore(box, node.querySelector(".meta"));
  }
  el.list.append(node);
  if (stick) scrollToEnd();
}

// Render a bot message unless its ref was already shown (POST reply vs. later poll).
function acceptBot(s, msg) {
  const ref = msg.ref;
  if (ref !== undefined && ref !== null) {
    if (s.refs.has(String(ref))) return false;
    s.refs.add(String(ref));
  }
  renderBot(msg);
  return true;
}

// ---------- sending ----------

// state: "pending" | "ok" | "failed" (retryable) | "rejected" (server refused it).
function markMine(node, state) {
  node.classList.toggle("pending", state === "pending");
  node.classList.toggle("failed", state === "failed" || state === "rejected");
  node.querySelector(".status")?.remove();
  if (state !== "failed" && state !== "rejected") return;
  const tag = document.createElement(state === "failed" ? "button" : "span");
  tag.className = state === "failed" ? "status retry" : "status";
  tag.textContent = state === "failed" ? "发送失败，点此重试" : "未送达";
  if (state === "failed") tag.type = "button";
  const stick = nearBottom();
  node.append(tag);
  if (stick) scrollToEnd();
}

// A photo or a file goes as multipart to /files, with the text box as its caption;
// the server keeps an image as a photo and checks anything else is a document it takes.
function sendUpload(file, asPhoto) {
  const s = session;
  if (!s || !file) return;
  const form = new FormData();
  form.append(asPhoto ? "photo" : "file", file, file.name);
  form.append("client_id", newClientId());
  const caption = el.input.value.trim();
  if (caption) form.append("caption", caption);
  el.input.value = "";
  updateComposer();
  const item = { form, node: bubble("me", caption) };
  if (asPhoto || file.type.startsWith("image/")) addImage(item.node, URL.createObjectURL(file));
  else addDocument(item.node, file.name, null);
  item.node._retry = () => enqueue(s, item);
  el.list.append(item.node);
  scrollToEnd();
  return enqueue(s, item);
}

// payload: {text} or {button}; label: what the own bubble shows (null = no bubble).
function send(payload, label) {
  const s = session;
  if (!s) return Promise.resolve();
  const item = { payload: { ...payload, client_id: newClientId() }, node: null };
  if (label !== null) {
    item.node = bubble("me", label);
    item.node._retry = () => enqueue(s, item);
    el.list.append(item.node);
    scrollToEnd();
  }
  return enqueue(s, item);
}

function enqueue(s, item) {
  if (item.node) markMine(item.node, "pending");
  sendChain = sendChain.then(() => post(s, item));
  return sendChain;
}

async function post(s, item) {
  if (s !== session) return;
  let resp;
  try {
    resp = item.form
      ? await fetch(chatUrl(s.user).replace(/messages$/, "files"), {
          method: "POST", body: item.form,  // same client_id on retry: server dedupes
        })
      : await fetch(chatUrl(s.user), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(item.payload),  // same client_id on retry: server dedupes
        });
  } catch (_) {
    if (s !== session) return;
    if (item.node) markMine(item.node, "failed");
    showNotice("网络连接异常，消息未能发送，请检查网络后重试");
    return;
  }
  if (s !== session) return;
  if (!resp.ok) {
    if (item.node) markMine(item.node, resp.status >= 500 ? "failed" : "rejected");
    showNotice(await errorText(resp));
    return;
  }
  if (item.node) markMine(item.node, "ok");
  clearNotice();
  let data = {};
  try { data = await resp.json(); } catch (_) { /* empty body */ }
  if (s !== session) return;
  for (const r of data.replies || []) acceptBot(s, r);
  scrollToEnd();
}

// ---------- polling ----------

async function fetchNew(s) {
  const resp = await fetch(`${chatUrl(s.user)}?after=${encodeURIComponent(s.after)}`, { cache: "no-store" });
  if (!resp.ok) throw new Error(await errorText(resp));
  const data = await resp.json();
  if (s !== session) return 0;
  const msgs = data.messages || [];
  for (const m of msgs) {
    if (typeof m.id === "number" && m.id > s.after) s.after = m.id;
    acceptBot(s, m);
  }
  return msgs.length;
}

function schedulePoll(delay) {
  clearTimeout(pollTimer);
  if (!session || !session.loaded || document.hidden) return;
  pollTimer = setTimeout(pollOnce, delay);
}

async function pollOnce() {
  const s = session;
  if (!s || s.polling) return;
  s.polling = true;
  try {
    await fetchNew(s);
    if (s.failures >= 3) clearNotice();
    s.failures = 0;
  } catch (_) {
    s.failures += 1;
    if (s.failures === 3 && s === session) showNotice("与服务器的连接中断，正在重试…");
  } finally {
    s.polling = false;
  }
  if (s === session) schedulePoll(s.failures ? Math.min(config.poll_ms * (1 + s.failures), 15000) : config.poll_ms);
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) clearTimeout(pollTimer);
  else schedulePoll(0);
});

// ---------- session / persona ----------

async function startSession(user) {
  clearTimeout(pollTimer);
  clearNotice();
  el.list.replaceChildren();
  const s = { user, after: 0, refs: new Set(), loaded: false, polling: false, failures: 0 };
  session = s;
  setEnabled(true);
  let count = 0;
  try {
    s.polling = true;
    count = await fetchNew(s);
  } catch (e) {
    if (s === session) showNotice(`加载历史消息失败：${e.message || "网络异常"}`);
    count = -1;
  } finally {
    s.polling = false;
  }
  if (s !== session) return;
  s.loaded = true;
  scrollToEnd();
  if (count === 0 && !greeted.has(user)) {
    greeted.add(user);
    // Greet a brand-new conversation (no own bubble); an invite link (/join/CODE
    // redirects to /?start=CODE) carries its code into the first /start.
    const code = new URLSearchParams(location.search).get("start");
    send({ text: code ? `/start ${code}` : "/start" }, null);
  }
  schedulePoll(config.poll_ms);
}

function guestOption(id) {
  let opt = [...el.persona.options].find((o) => o.value === id);
  if (!opt) {
    opt = new Option(`访客 · ${id}`, id);
    el.persona.insertBefore(opt, el.persona.querySelector(`option[value="${GUEST}"]`));
  }
  return opt;
}

function setupPersonas() {
  for (const p of config.personas || []) {
    el.persona.append(new Option(p.label ? `${p.name}（${p.label}）` : p.name, p.id));
  }
  el.persona.append(new Option("新访客（未登记）", GUEST));
  el.personaWrap.hidden = false;

  let saved = null;
  try { saved = localStorage.getItem(STORE_KEY); } catch (_) { /* storage blocked */ }
  let user = saved && saved !== GUEST ? saved : null;
  if (user && user.startsWith("guest-")) guestOption(user);
  else if (!user || !(config.personas || []).some((p) => p.id === user)) user = config.personas?.[0]?.id || null;
  if (!user) { user = `guest-${randomHex(3)}`; guestOption(user); }
  el.persona.value = user;

  el.persona.addEventListener("change", () => {
    let id = el.persona.value;
    if (id === GUEST) {
      id = `guest-${randomHex(3)}`;
      guestOption(id);
      el.persona.value = id;
    }
    try { localStorage.setItem(STORE_KEY, id); } catch (_) { /* ignore */ }
    startSession(id);
  });
  return user;
}

// ---------- input ----------

function setEnabled(on) {
  el.input.disabled = !on;
  el.photo.disabled = !on;
  el.file.disabled = !on;
  el.menu.disabled = !on;
  updateComposer();
}

function updateComposer() {
  const len = el.input.value.length;
  const max = config.max_text;
  const over = len > max;
  el.send.disabled = el.input.disabled || !el.input.value.trim() || over;
  el.counter.hidden = len < max * 0.8;
  el.counter.textContent = `${len}/${max}`;
  el.counter.classList.toggle("over", over);
  // Auto-grow: reset then fit content; CSS max-height caps it at a few lines.
  el.input.style.height = "auto";
  const border = el.input.offsetHeight - el.input.clientHeight;
  el.input.style.height = `${el.input.scrollHeight + border}px`;
}

function submitInput() {
  if (el.send.disabled) return;
  const text = el.input.value;
  el.input.value = "";
  updateComposer();
  send({ text }, text);
  el.input.focus();
}

el.input.addEventListener("input", updateComposer);
el.input.addEventListener("keydown", (e) => {
  // Ignore Enter while an IME (pinyin) composition is active.
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    submitInput();
  }
});
el.form.addEventListener("submit", (e) => { e.preventDefault(); submitInput(); });
el.menu.addEventListener("click", () => send({ text: "/menu" }, "菜单"));
el.notice.querySelector(".notice-close").addEventListener("click", clearNotice);

el.list.addEventListener("click", (e) => {
  const btn = e.target.closest("button");
  if (!btn || !session) return;
  if (btn.classList.contains("retry")) {
    btn.closest(".msg.me")?._retry?.();
  } else if (btn.closest(".buttons") && btn.hasAttribute("data-data")) {
    btn.disabled = true;  // brief guard against double taps
    setTimeout(() => { btn.disabled = false; }, 800);
    send({ button: btn.getAttribute("data-data") }, btn.textContent);
  }
});

// ---------- boot ----------

for (const [input, asPhoto] of [[el.photo, true], [el.file, false]]) {
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    input.value = "";
    if (file) sendUpload(file, asPhoto);
  });
}

async function boot() {
  try {
    const resp = await fetch("/api/config", { cache: "no-store" });
    if (!resp.ok) throw new Error(await errorText(resp));
    config = { ...config, ...(await resp.json()) };
  } catch (e) {
    showNotice(`无法加载配置：${e.message || "网络异常"}，请刷新页面重试`);
    return;
  }
  const heading = `${config.title || "邻里"} · 小区法治服务`;
  el.title.textContent = heading;
  document.title = heading;

  const user = config.demo ? setupPersonas() : config.user;
  if (!user) {
    setEnabled(false);
    el.input.placeholder = "暂不可用";
    showNotice("请通过小区提供的邀请链接或二维码进入");
    el.notice.querySelector(".notice-close").hidden = true;
    return;
  }
  startSession(user);
}

boot();
