// The search page: sends the box's description to /api/search and shows the answer (a
// grid of photos with their scores, the notice of a blocked query, or the server's error).
"use strict";
const $ = (id) => document.getElementById(id);

function show(el, text) {
  el.textContent = text;
  el.hidden = text === "";
}

async function search(ev) {
  ev.preventDefault();
  const q = $("q").value, k = $("k").value;
  show($("message"), ""); show($("notice"), ""); show($("summary"), "");
  $("results").replaceChildren();
  let res, body;
  try {
    res = await fetch("/api/search?" + new URLSearchParams({ q, k, explain: 1 }));
    body = await res.json();
  } catch (err) {
    show($("message"), "The search could not be reached: " + err);
    return;
  }
  if (!res.ok) {
    show($("message"), body.error || ("error " + res.status));
    return;
  }
  if (body.blocked) {
    show($("notice"), body.notice);
    return;
  }
  let summary = body.results.length + " photos for “" + body.query + "” (" + body.scorer + ")";
  if (body.hidden_by_guard > 0) summary += ", " + body.hidden_by_guard + " hidden by the NSFW guard";
  show($("summary"), summary);
  for (const r of body.results) {
    const li = document.createElement("li");
    const img = document.createElement("img");
    img.src = r.url;
    img.alt = r.path;
    const meta = document.createElement("div");
    meta.className = "meta";
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = "#" + r.rank + "  " + r.score.toFixed(3);
    meta.append(score, " ", r.path);
    if (r.why && r.why.length) {
      const why = document.createElement("div");
      why.className = "why";
      why.textContent = "why: " + r.why.join(", ");
      meta.append(why);
    }
    li.append(img, meta);
    $("results").append(li);
  }
}

$("search").addEventListener("submit", search);
