// Live updates for the notes list: notes created, changed or deleted in another
// tab, browser or through the API arrive over a WebSocket and are shown without
// a reload. Reconnects with backoff; a "resync" message reloads the page.
"use strict";

(() => {
  const list = document.getElementById("notes");
  const template = document.getElementById("note-template");
  const status = document.getElementById("live-status");
  const empty = document.querySelector(".empty");
  if (!list || !template || !("WebSocket" in window)) return;

  let delay = 1000;

  function setStatus(on) {
    status.textContent = on ? "live" : "offline, reconnecting…";
    status.classList.toggle("on", on);
  }

  function when(stamp) {
    return stamp ? `${stamp.slice(0, 16).replace("T", " ")} UTC` : "";
  }

  function truncate(text, size) {
    return text.length <= size ? text : `${text.slice(0, size - 3).trimEnd()}...`;
  }

  // Fill a clone of the server-rendered template; textContent, never HTML.
  function render(note) {
    const item = template.content.firstElementChild.cloneNode(true);
    item.dataset.id = note.id;
    const title = item.querySelector(".note-title");
    title.textContent = note.title;
    title.href = note.url;
    item.querySelector(".note-body").textContent = truncate(note.body, 240);
    const time = item.querySelector(".note-updated");
    time.dateTime = note.updated;
    time.textContent = when(note.updated);
    const link = item.querySelector(".attachment");
    if (note.attachment) {
      link.textContent = note.attachment.name;
      link.href = note.attachment.url;
      link.hidden = false;
    }
    return item;
  }

  function find(id) {
    return list.querySelector(`li[data-id="${Number(id)}"]`);
  }

  function upsert(note) {
    const item = render(note);
    const old = find(note.id);
    if (old) {
      old.replaceWith(item);
    } else {
      item.classList.add("fresh");
      list.prepend(item);
    }
    if (empty) empty.hidden = true;
  }

  function remove(id) {
    const old = find(id);
    if (old) old.remove();
    if (empty) empty.hidden = list.children.length > 0;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${list.dataset.liveUrl}`);
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        // Subscribed on the server: from now on no change is missed.
        delay = 1000;
        setStatus(true);
      } else if (message.type === "created" || message.type === "updated") upsert(message.note);
      else if (message.type === "deleted") remove(message.id);
      else if (message.type === "resync") location.reload();
    });
    socket.addEventListener("close", () => {
      setStatus(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  connect();
})();
