// searchkit's search page: autocompletion and related items on demand. The page works
// without this script. Item text is put in the page as text (textContent), never as markup.
"use strict";

(function () {
  const root = document.body.dataset.root || "";

  function isWebUrl(url) {
    return typeof url === "string" && /^https?:\/\/[^\s]/i.test(url);
  }

  function textElement(tag, text, className) {
    const element = document.createElement(tag);
    element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  // Autocompletion: the words searchkit suggests for the query typed so far.
  const box = document.getElementById("q");
  const list = document.getElementById("completions");
  if (box && list) {
    let timer = null;
    let asked = "";
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(async function () {
        const prefix = box.value;
        if (!prefix.trim() || prefix === asked) return;
        asked = prefix;
        try {
          const answer = await fetch(root + "/api/suggest?limit=8&prefix=" + encodeURIComponent(prefix));
          if (!answer.ok || box.value !== prefix) return;
          const data = await answer.json();
          list.replaceChildren(...data.completions.map(function (completion) {
            const option = document.createElement("option");
            option.value = completion;
            return option;
          }));
        } catch (error) {
          // No completions: the search box works as before.
        }
      }, 120);
    });
  }

  // Related items: loaded the first time a result's "Related items" is opened.
  function renderRelated(panel, data) {
    panel.replaceChildren();
    if (!data.related.length) {
      panel.append(textElement("p", "Nothing related found."));
      return;
    }
    const items = document.createElement("ol");
    for (const hit of data.related) {
      const entry = document.createElement("li");
      if (isWebUrl(hit.url)) {
        const link = textElement("a", hit.title);
        link.href = hit.url;
        link.rel = "noopener noreferrer nofollow";
        entry.append(link);
      } else {
        entry.append(textElement("span", hit.title));
      }
      const provider = (hit.provider && (hit.provider.name || hit.provider.domain)) || "unknown provider";
      const date = hit.published_at ? hit.published_at.slice(0, 10) : "undated";
      const meta = [hit.reason, provider, date];
      if (!hit.in_index) meta.push("not in the index");
      entry.append(textElement("span", meta.join(" · "), "meta"));
      items.append(entry);
    }
    panel.append(items);
  }

  document.addEventListener("click", async function (event) {
    const toggle = event.target.closest && event.target.closest("a.related-toggle");
    if (!toggle) return;
    event.preventDefault();
    const panel = toggle.closest(".hit").querySelector(".related");
    const open = toggle.getAttribute("aria-expanded") === "true";
    toggle.setAttribute("aria-expanded", open ? "false" : "true");
    panel.hidden = open;
    if (open || panel.dataset.loaded) return;
    panel.replaceChildren(textElement("p", "Loading…"));
    try {
      const answer = await fetch(root + "/api/related/" + encodeURIComponent(toggle.dataset.id) + "?limit=5");
      const data = await answer.json();
      if (!answer.ok) throw new Error(data.error ? data.error.message : answer.statusText);
      renderRelated(panel, data);
      panel.dataset.loaded = "yes";
    } catch (error) {
      panel.replaceChildren(textElement("p", "Related items could not be loaded: " + error.message, "error"));
    }
  });
})();
