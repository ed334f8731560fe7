// The binvault web console: one page, one ES module per concern (api.js, dom.js, diff.js),
// no inline script, no eval, no library. Routes are URL fragments (#/bins, #/bin/<id>, ...),
// so the server serves the same few files for every page.

import { ApiError, call, id, isMaster, signIn, signOut, signedIn } from "./api.js";
import { canonical, changes, diffLines } from "./diff.js";
import { append, bytes, checkbox, clear, field, h, when } from "./dom.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const errorBanner = document.getElementById("error");
const statusBanner = document.getElementById("status");
const KNOWN_SCHEMAS = "binvault.console.schemaDocs";
const BIN_ID = /^[0-9a-f]{24}$/;

// ---- messages ------------------------------------------------------------------------------

function showError(error) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
  errorBanner.replaceChildren(h("p", { text: message }));
  statusBanner.replaceChildren();
}

let statusSetAt = 0;

function showStatus(message) {
  statusSetAt = Date.now();
  statusBanner.replaceChildren(h("p", { text: message }));
  errorBanner.replaceChildren();
}

function clearMessages() {
  errorBanner.replaceChildren();
  statusBanner.replaceChildren();
}

// Runs an action; an API error becomes its message on the page (or in ``inline``), never a blank page.
async function attempt(action, inline) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && !inline) {
      showError(`${error.message}. Sign in again.`);
    } else if (inline) {
      inline.textContent = error.message;
    } else {
      showError(error);
    }
    return undefined;
  }
}

// A modal confirmation (<dialog>): resolves true on the confirm button, false on Cancel or Escape.
function confirmAction(title, body, confirmLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  clear(document.getElementById("confirm-body"));
  append(document.getElementById("confirm-body"), [body]);
  const yes = document.getElementById("confirm-yes");
  const no = document.getElementById("confirm-no");
  yes.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("cancel", onNo);
      dialog.close();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onNo = (event) => {
      event.preventDefault();
      done(false);
    };
    yes.addEventListener("click", onYes);
    no.addEventListener("click", onNo);
    dialog.addEventListener("cancel", onNo);
    dialog.showModal();
    no.focus();
  });
}

// ---- page frame ----------------------------------------------------------------------------

function page(title, ...content) {
  document.title = `${title} - binvault console`;
  const heading = h("h1", { tabindex: "-1", text: title });
  clear(main);
  append(main, [heading, ...content]);
  heading.focus();
}

function renderNav() {
  clear(nav);
  const current = signedIn();
  if (!current) return;
  const links = [["#/bins", "Bins"]];
  if (isMaster()) links.push(["#/collections", "Collections"], ["#/schemas", "Schema docs"], ["#/keys", "Access keys"]);
  const here = window.location.hash.split("?")[0];
  append(nav, [
    h(
      "ul",
      {},
      links.map(([href, label]) =>
        h("li", {}, h("a", { href, text: label, "aria-current": here.startsWith(href) ? "page" : null })),
      ),
    ),
    h("p", { class: "who", text: current.kind === "master" ? "Signed in with the master key" : "Signed in with an access key" }),
    h("button", { type: "button", onclick: doSignOut, text: "Sign out" }),
  ]);
}

// Navigate (a hash the page already shows renders it again).
function go(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function doSignOut() {
  signOut();
  clearMessages();
  go("#/signin");
  showStatus("Signed out. The key was removed from this tab.");
}

// ---- sign in ---------------------------------------------------------------------------------

function signInPage() {
  const masterKey = h("input", { type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const masterError = h("p", { class: "inline-error", "aria-live": "polite" });
  const accessKey = h("input", { type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const masterForm = h(
    "form",
    {
      "aria-labelledby": "signin-master",
      onsubmit: async (event) => {
        event.preventDefault();
        masterError.textContent = "";
        const key = masterKey.value.trim();
        if (!key) {
          masterError.textContent = "Enter the master key.";
          return;
        }
        // GET /c checks the key (and costs one request of the quota, as any call does).
        const checked = await attempt(() => call("GET", "/c", { key: { kind: "master", key } }), masterError);
        if (!checked) return;
        signIn("master", key);
        masterKey.value = "";
        clearMessages();
        go("#/bins");
      },
    },
    h("h2", { id: "signin-master", text: "With the master key" }),
    field("Master key", masterKey, "Kept in this browser tab only (sessionStorage) until you sign out or close it."),
    masterError,
    h("button", { type: "submit", text: "Sign in" }),
  );
  const accessForm = h(
    "form",
    {
      "aria-labelledby": "signin-access",
      onsubmit: (event) => {
        event.preventDefault();
        const key = accessKey.value.trim();
        if (!key) return;
        signIn("access", key);
        accessKey.value = "";
        clearMessages();
        go("#/bins");
      },
    },
    h("h2", { id: "signin-access", text: "With an access key" }),
    field(
      "Access key",
      accessKey,
      "An access key works on bins only (open by id, create, edit, versions), as far as its permissions go.",
    ),
    h("button", { type: "submit", text: "Sign in with access key" }),
  );
  page("Sign in", h("div", { class: "columns" }, masterForm, accessForm));
}

// ---- bins ----------------------------------------------------------------------------------

const listing = { collection: "uncategorized", cursors: [] };

async function binsPage() {
  const openId = h("input", { type: "text", pattern: "[0-9a-f]{24}", spellcheck: "false", autocomplete: "off" });
  const openForm = h(
    "form",
    {
      class: "inline",
      onsubmit: (event) => {
        event.preventDefault();
        const value = openId.value.trim();
        if (!BIN_ID.test(value)) {
          showError("A bin id is 24 lowercase hexadecimal characters.");
          return;
        }
        window.location.hash = `#/bin/${value}`;
      },
    },
    field("Bin id", openId),
    h("button", { type: "submit", text: "Open bin" }),
  );
  const toolbar = h("div", { class: "toolbar" }, h("a", { class: "button", href: "#/new", text: "New bin" }), openForm);
  if (!isMaster()) {
    page("Bins", toolbar, h("p", { text: "Listing bins and collections needs the master key: open a bin by its id." }));
    return;
  }
  const collections = await attempt(() => call("GET", "/c"));
  const choices = [["uncategorized", "Uncategorized"], ...(collections?.data || []).map((c) => [c.record, c.collectionMeta.name])];
  if (!choices.some(([value]) => value === listing.collection)) listing.collection = "uncategorized";
  const select = h(
    "select",
    {
      onchange: () => {
        listing.collection = select.value;
        listing.cursors = [];
        loadPage();
      },
    },
    choices.map(([value, label]) => h("option", { value, selected: value === listing.collection, text: label })),
  );
  const results = h("div", { "aria-live": "polite" });
  page("Bins", toolbar, h("div", { class: "toolbar" }, field("Collection", select)), results);

  async function loadPage() {
    const after = listing.cursors[listing.cursors.length - 1];
    const path = `/c/${id(listing.collection)}/bins${after ? `/${id(after)}` : ""}`;
    const answer = await attempt(() => call("GET", path));
    clear(results);
    if (!answer) return;
    const bins = answer.data || [];
    const rows = bins.map((bin) =>
      h(
        "tr",
        {},
        h("td", {}, h("a", { href: `#/bin/${bin.record}`, text: bin.snippetMeta?.name || "(no name)" })),
        h("td", {}, h("code", { text: bin.record })),
        h("td", { text: bin.private ? "private" : "public" }),
        h("td", { text: when(bin.createdAt) }),
      ),
    );
    const pager = h(
      "div",
      { class: "pager" },
      h("button", {
        type: "button",
        disabled: listing.cursors.length === 0,
        text: "Previous page",
        onclick: () => {
          listing.cursors.pop();
          loadPage();
        },
      }),
      h("span", { text: `Page ${listing.cursors.length + 1}` }),
      h("button", {
        type: "button",
        disabled: bins.length < 10,
        text: "Next page",
        onclick: () => {
          listing.cursors.push(bins[bins.length - 1].record);
          loadPage();
        },
      }),
    );
    const table = bins.length
      ? h(
          "table",
          {},
          h("caption", { text: `Bins in ${choices.find(([v]) => v === listing.collection)?.[1] ?? "collection"}, newest first` }),
          h("thead", {}, h("tr", {}, ["Name", "Id", "Privacy", "Created"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, rows),
        )
      : h("p", { text: listing.cursors.length ? "No more bins." : "No bins here yet." });
    append(results, [table, pager]);
  }
  await loadPage();
}

function recordEditor(label, text) {
  const area = h("textarea", { rows: "14", spellcheck: "false", class: "code", value: text });
  const parseError = h("p", { class: "inline-error", "aria-live": "polite" });
  const editor = field(label, area);
  area.setAttribute("aria-describedby", `${area.id}-error`);
  parseError.id = `${area.id}-error`;
  const check = () => {
    try {
      JSON.parse(area.value);
      parseError.textContent = "";
      area.removeAttribute("aria-invalid");
      return true;
    } catch (error) {
      parseError.textContent = `Not valid JSON: ${error.message}`;
      area.setAttribute("aria-invalid", "true");
      return false;
    }
  };
  area.addEventListener("input", check);
  return { area, parseError, element: h("div", {}, editor, parseError), check };
}

async function newBinPage() {
  const name = h("input", { type: "text", maxlength: "128", autocomplete: "off" });
  const privacy = checkbox("Private", true);
  const editor = recordEditor("Record (JSON)", '{\n  "hello": "world"\n}');
  const parts = [field("Bin name", name), privacy.element];
  let collection = null;
  if (isMaster()) {
    const collections = await attempt(() => call("GET", "/c"));
    collection = h(
      "select",
      {},
      h("option", { value: "", text: "Uncategorized" }),
      (collections?.data || []).map((c) =>
        h("option", { value: c.record, text: c.collectionMeta.name, selected: c.record === listing.collection }),
      ),
    );
    parts.push(field("Collection", collection));
  }
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        if (!editor.check()) return;
        const headers = { "X-Bin-Private": privacy.input.checked ? "true" : "false" };
        if (name.value.trim()) headers["X-Bin-Name"] = name.value.trim();
        if (collection?.value) headers["X-Collection-Id"] = collection.value;
        const created = await attempt(() => call("POST", "/b", { headers, body: editor.area.value }), editor.parseError);
        if (!created) return;
        showStatus("Bin created.");
        window.location.hash = `#/bin/${created.data.metadata.id}`;
      },
    },
    parts,
    editor.element,
    h("button", { type: "submit", text: "Create bin" }),
  );
  page("New bin", form);
}

async function binPage(binId) {
  const answer = await attempt(() => call("GET", `/b/${id(binId)}/latest`));
  if (!answer) {
    page("Bin", h("p", {}, h("a", { href: "#/bins", text: "Back to bins" })));
    return;
  }
  let etag = answer.etag;
  const meta = answer.data.metadata;
  const title = meta.name ? `Bin ${meta.name}` : `Bin ${binId}`;
  const editor = recordEditor("Record (JSON)", canonicalText(answer.data.record));
  const conflict = h("div", { class: "conflict", role: "alert" });

  async function save(versioning) {
    clear(conflict);
    if (!editor.check()) return;
    try {
      const saved = await call("PUT", `/b/${id(binId)}`, {
        headers: { "X-Bin-Versioning": versioning ? "true" : "false", "If-Match": etag },
        body: editor.area.value,
      });
      etag = saved.etag;
      editor.parseError.textContent = "";
      const number = saved.data.metadata.version;
      showStatus(number ? `Saved as version ${number}.` : "Saved in place (no new version).");
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        append(conflict, [
          h("p", { text: "Someone else saved this bin first, so your change was not saved. Reload to see their version." }),
          h("button", { type: "button", text: "Reload", onclick: () => binPage(binId) }),
        ]);
        conflict.querySelector("button").focus();
      } else {
        // A schema doc's mismatch, a size limit, ...: the API's message, next to the editor.
        editor.parseError.textContent = error.message;
      }
    }
  }

  const details = h(
    "dl",
    { class: "details" },
    h("dt", { text: "Id" }),
    h("dd", {}, h("code", { text: binId })),
    h("dt", { text: "Latest version" }),
    h("dd", { text: meta.version === 0 ? "0 (base record, no versions yet)" : String(meta.version) }),
    h("dt", { text: "Privacy" }),
    h("dd", { text: meta.private ? "private" : "public" }),
    h("dt", { text: "Collection" }),
    h("dd", {}, meta.collectionId ? h("code", { text: meta.collectionId }) : "uncategorized"),
    h("dt", { text: "Created" }),
    h("dd", { text: when(meta.createdAt) }),
  );
  const editSection = h(
    "section",
    { "aria-labelledby": "edit-heading" },
    h("h2", { id: "edit-heading", text: "Record" }),
    editor.element,
    conflict,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", text: "Save new version", onclick: () => save(true) }),
      h("button", { type: "button", text: "Save in place", onclick: () => save(false) }),
    ),
  );
  const sections = [
    h("p", { class: "toolbar" }, h("a", { class: "button", href: `#/bin/${binId}/versions`, text: "Versions" })),
    details,
    editSection,
  ];
  if (isMaster()) {
    const newName = h("input", { type: "text", maxlength: "128", value: meta.name || "", autocomplete: "off" });
    const privacy = checkbox("Private", meta.private);
    sections.push(
      h(
        "section",
        { "aria-labelledby": "settings-heading" },
        h("h2", { id: "settings-heading", text: "Name and privacy" }),
        h(
          "form",
          {
            class: "inline",
            onsubmit: async (event) => {
              event.preventDefault();
              const renamed = await attempt(() =>
                call("PUT", `/b/${id(binId)}/meta/name`, { headers: { "X-Bin-Name": newName.value.trim(), "If-Match": etag } }),
              );
              if (renamed) {
                etag = renamed.etag;
                showStatus("Bin renamed.");
                document.title = `Bin ${newName.value.trim()} - binvault console`;
                main.querySelector("h1").textContent = `Bin ${newName.value.trim()}`;
              }
            },
          },
          field("Bin name", newName),
          h("button", { type: "submit", text: "Rename" }),
        ),
        h(
          "form",
          {
            class: "inline",
            onsubmit: async (event) => {
              event.preventDefault();
              const headers = { "X-Bin-Private": privacy.input.checked ? "true" : "false", "If-Match": etag };
              const changed = await attempt(() => call("PUT", `/b/${id(binId)}/meta/privacy`, { headers }));
              if (changed) {
                etag = changed.etag;
                showStatus(privacy.input.checked ? "The bin is private." : "The bin is public: anyone with its id can read it.");
              }
            },
          },
          privacy.element,
          h("button", { type: "submit", text: "Save privacy" }),
        ),
      ),
    );
  }
  sections.push(
    h(
      "section",
      { "aria-labelledby": "danger-heading" },
      h("h2", { id: "danger-heading", text: "Delete" }),
      h("button", {
        type: "button",
        class: "danger",
        text: "Delete bin",
        onclick: async () => {
          const sure = await confirmAction(
            "Delete this bin?",
            h("p", { text: `The bin ${meta.name || binId} and all its versions will be deleted. This cannot be undone.` }),
            "Delete bin",
          );
          if (!sure) return;
          const deleted = await attempt(() => call("DELETE", `/b/${id(binId)}`, { headers: { "If-Match": etag } }));
          if (deleted) {
            showStatus("Bin deleted.");
            window.location.hash = "#/bins";
          }
        },
      }),
    ),
  );
  page(title, ...sections);
}

function canonicalText(value) {
  return JSON.stringify(value, null, 2);
}

// ---- versions ------------------------------------------------------------------------------

async function versionsPage(binId) {
  const first = await attempt(() => call("GET", `/b/${id(binId)}/versions`));
  if (!first) {
    page("Versions", h("p", {}, h("a", { href: `#/bin/${binId}`, text: "Back to the bin" })));
    return;
  }
  let etag = first.etag;
  const count = first.data.metadata.versionCount;
  const listed = [...first.data.versions];
  let next = first.data.next;
  const viewer = h("section", { "aria-labelledby": "viewer-heading", class: "viewer", hidden: true });
  const diffOutput = h("section", { "aria-labelledby": "diff-heading", class: "viewer", hidden: true });

  async function read(version) {
    const path = version === 0 ? `/b/${id(binId)}` : `/b/${id(binId)}/${version}`;
    const answer = await call("GET", path);
    return answer.data.record;
  }

  async function view(version) {
    const record = await attempt(() => read(version));
    if (record === undefined) return;
    viewer.hidden = false;
    viewer.replaceChildren(
      h("h2", { id: "viewer-heading", tabindex: "-1", text: version === 0 ? "Base record (version 0)" : `Version ${version}` }),
      h("pre", { class: "code", text: canonicalText(record) }),
    );
    viewer.querySelector("h2").focus();
  }

  async function restore(version) {
    const record = await attempt(() => read(version));
    if (record === undefined) return;
    try {
      const saved = await call("PUT", `/b/${id(binId)}`, {
        headers: { "X-Bin-Versioning": "true", "If-Match": etag },
        body: record,
      });
      showStatus(`Version ${version} restored as version ${saved.data.metadata.version}: nothing was lost.`);
      await versionsPage(binId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 412) {
        showError("Someone else saved this bin first, so nothing was restored. The list below is reloaded.");
        await versionsPage(binId);
        return;
      }
      showError(error);
    }
  }

  const rows = h("tbody");
  const renderRows = () => {
    clear(rows);
    for (const version of listed) {
      rows.append(
        h(
          "tr",
          {},
          h("th", { scope: "row", text: String(version.version) }),
          h("td", { text: when(version.createdAt) }),
          h("td", { text: bytes(version.storedBytes) }),
          h(
            "td",
            { class: "actions" },
            h("button", { type: "button", text: "View", "aria-label": `View version ${version.version}`, onclick: () => view(version.version) }),
            h("button", {
              type: "button",
              text: "Restore",
              "aria-label": `Restore version ${version.version}`,
              onclick: () => restore(version.version),
            }),
          ),
        ),
      );
    }
    if (!next) {
      rows.append(
        h(
          "tr",
          {},
          h("th", { scope: "row", text: "0" }),
          h("td", { text: "base record" }),
          h("td", { text: "" }),
          h(
            "td",
            { class: "actions" },
            h("button", { type: "button", text: "View", "aria-label": "View the base record", onclick: () => view(0) }),
            count
              ? h("button", { type: "button", text: "Restore", "aria-label": "Restore the base record", onclick: () => restore(0) })
              : null,
          ),
        ),
      );
    }
  };
  renderRows();
  const older = h("button", {
    type: "button",
    text: "Older versions",
    hidden: !next,
    onclick: async () => {
      const answer = await attempt(() => call("GET", `/b/${id(binId)}/versions`, { query: { before: String(next) } }));
      if (!answer) return;
      listed.push(...answer.data.versions);
      next = answer.data.next;
      older.hidden = !next;
      renderRows();
      updateChoices();
    },
  });
  const table = h(
    "table",
    {},
    h("caption", { text: `${count} version${count === 1 ? "" : "s"}, newest first` }),
    h("thead", {}, h("tr", {}, ["Version", "Saved", "Stored size", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
    rows,
  );

  // Diff any two: the versions listed so far, the base record, and "latest".
  const fromSelect = h("select");
  const toSelect = h("select");
  function updateChoices() {
    const options = (selected) => [
      h("option", { value: "latest", text: "latest", selected: selected === "latest" }),
      ...listed.map((v) => h("option", { value: String(v.version), text: `version ${v.version}`, selected: selected === String(v.version) })),
      h("option", { value: "0", text: "base record (0)", selected: selected === "0" }),
    ];
    const fromValue = fromSelect.value || (listed[1] ? String(listed[1].version) : "0");
    const toValue = toSelect.value || "latest";
    fromSelect.replaceChildren(...options(fromValue));
    toSelect.replaceChildren(...options(toValue));
  }
  updateChoices();
  const diffForm = h(
    "form",
    {
      class: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        const which = (value) => (value === "latest" ? (count || 0) : Number(value));
        const [before, after] = await Promise.all([attempt(() => read(which(fromSelect.value))), attempt(() => read(which(toSelect.value)))]);
        if (before === undefined || after === undefined) return;
        renderDiff(diffOutput, fromSelect.selectedOptions[0].text, toSelect.selectedOptions[0].text, before, after);
      },
    },
    field("From version", fromSelect),
    field("To version", toSelect),
    h("button", { type: "submit", text: "Diff" }),
  );

  const preserve = checkbox("Preserve latest", false);
  const deleteSection = h(
    "section",
    { "aria-labelledby": "delete-versions-heading" },
    h("h2", { id: "delete-versions-heading", text: "Delete versions" }),
    h("p", {
      text: "Deletes every version at once. With Preserve latest, the latest version's record becomes the bin's record; without it, the bin keeps its base record.",
    }),
    preserve.element,
    h("button", {
      type: "button",
      class: "danger",
      text: "Delete versions",
      onclick: async () => {
        const keep = preserve.input.checked;
        const afterwards = await attempt(() => read(keep && count ? count : 0));
        if (afterwards === undefined) return;
        const what = count === 0
          ? "This bin has no versions: nothing will be deleted."
          : `${count} version${count === 1 ? "" : "s"} (1 to ${count}) will be deleted.`;
        const record = keep && count
          ? `Afterwards the bin's record will be the latest version's record (version ${count}):`
          : "Afterwards the bin's record will be its base record (version 0), unchanged:";
        const sure = await confirmAction(
          "Delete versions?",
          [h("p", { text: what }), h("p", { text: record }), h("pre", { class: "code preview", text: canonicalText(afterwards) })],
          count ? `Delete ${count} version${count === 1 ? "" : "s"}` : "OK",
        );
        if (!sure) return;
        const headers = { "X-Preserve-Latest": keep ? "true" : "false", "If-Match": etag };
        const deleted = await attempt(() => call("DELETE", `/b/${id(binId)}/versions`, { headers }));
        if (!deleted) return;
        await versionsPage(binId);
        showStatus(`Deleted ${deleted.data.metadata.versionsDeleted} versions.`);
      },
    }),
  );

  page(
    `Versions of bin ${binId}`,
    h("p", { class: "toolbar" }, h("a", { href: `#/bin/${binId}`, text: "Back to the bin" })),
    table,
    older,
    h("section", { "aria-labelledby": "compare-heading" }, h("h2", { id: "compare-heading", text: "Compare two versions" }), diffForm),
    diffOutput,
    viewer,
    deleteSection,
  );
}

function renderDiff(target, fromLabel, toLabel, before, after) {
  const lines = diffLines(canonical(before), canonical(after));
  const found = changes(before, after);
  const added = lines.filter((l) => l.op === "added").length;
  const removed = lines.filter((l) => l.op === "removed").length;
  const summary = found.length === 0 ? "The two versions are identical." : `${found.length} change${found.length === 1 ? "" : "s"}: ${removed} line${removed === 1 ? "" : "s"} removed, ${added} added.`;
  const list = h(
    "ul",
    { class: "changes" },
    found.slice(0, 100).map((change) =>
      h(
        "li",
        {},
        h("code", { text: change.path }),
        change.kind === "added"
          ? ` added: ${short(change.after)}`
          : change.kind === "removed"
            ? ` removed (was ${short(change.before)})`
            : ` changed from ${short(change.before)} to ${short(change.after)}`,
      ),
    ),
  );
  // Unchanged runs longer than 2 * CONTEXT lines fold into one "... n unchanged lines" line.
  const CONTEXT = 3;
  const shown = [];
  let run = [];
  const flush = (last) => {
    if (run.length > CONTEXT * 2 + 1) {
      const head = shown.length ? run.slice(0, CONTEXT) : [];
      const tail = last ? [] : run.slice(-CONTEXT);
      shown.push(...head, { op: "fold", text: `... ${run.length - head.length - tail.length} unchanged lines` }, ...tail);
    } else {
      shown.push(...run);
    }
    run = [];
  };
  for (const line of lines) {
    if (line.op === "same") run.push(line);
    else {
      flush(false);
      shown.push(line);
    }
  }
  flush(true);
  const mark = { same: "  ", removed: "- ", added: "+ ", fold: "  " };
  const pre = h(
    "pre",
    { class: "code diff", "aria-label": `Line diff from ${fromLabel} to ${toLabel}` },
    shown.map((line) => h("span", { class: `line ${line.op}`, text: `${mark[line.op]}${line.text}\n` })),
  );
  target.hidden = false;
  target.replaceChildren(
    h("h2", { id: "diff-heading", tabindex: "-1", text: `Diff: ${fromLabel} to ${toLabel}` }),
    h("p", { class: "diff-summary", text: summary }),
    list,
    pre,
  );
  target.querySelector("h2").focus();
}

function short(value) {
  const text = JSON.stringify(value);
  return text === undefined ? "undefined" : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

// ---- collections and schema docs (master key only) ------------------------------------------

function knownSchemas() {
  try {
    return JSON.parse(window.sessionStorage.getItem(KNOWN_SCHEMAS) || "{}") || {};
  } catch {
    return {};
  }
}

function rememberSchema(schemaId, name) {
  const known = knownSchemas();
  known[schemaId] = name;
  window.sessionStorage.setItem(KNOWN_SCHEMAS, JSON.stringify(known));
}

async function collectionsPage() {
  const answer = await attempt(() => call("GET", "/c"));
  const collections = answer?.data || [];
  const known = knownSchemas();
  const name = h("input", { type: "text", maxlength: "32", autocomplete: "off" });
  const create = h(
    "form",
    {
      class: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        const created = await attempt(() => call("POST", "/c", { headers: { "X-Collection-Name": name.value.trim() } }));
        if (created) {
          showStatus("Collection created.");
          collectionsPage();
        }
      },
    },
    field("Collection name", name),
    h("button", { type: "submit", text: "Create collection" }),
  );
  const items = collections.map((collection) => {
    const label = collection.collectionMeta.name;
    const rename = h("input", { type: "text", maxlength: "32", value: label, autocomplete: "off" });
    const schema = h(
      "select",
      {},
      h("option", { value: "", text: "choose a schema doc" }),
      Object.entries(known).map(([schemaId, schemaName]) => h("option", { value: schemaId, text: `${schemaName} (${schemaId})` })),
    );
    return h(
      "li",
      { class: "card" },
      h("h2", { text: label }),
      h("p", {}, "Id ", h("code", { text: collection.record }), ". Schema doc: ", collection.schemaDocId ? h("code", { text: `${known[collection.schemaDocId] || ""} ${collection.schemaDocId}`.trim() }) : "none"),
      h(
        "form",
        {
          class: "inline",
          onsubmit: async (event) => {
            event.preventDefault();
            const done = await attempt(() =>
              call("PUT", `/c/${id(collection.record)}/meta/name`, { headers: { "X-Collection-Name": rename.value.trim() } }),
            );
            if (done) {
              showStatus("Collection renamed.");
              collectionsPage();
            }
          },
        },
        field(`New name for ${label}`, rename),
        h("button", { type: "submit", text: "Rename collection" }),
      ),
      h(
        "form",
        {
          class: "inline",
          onsubmit: async (event) => {
            event.preventDefault();
            if (!schema.value) {
              showError("Choose a schema doc first (create one under Schema docs).");
              return;
            }
            const done = await attempt(() =>
              call("PUT", `/c/${id(collection.record)}/schemadoc/add`, { headers: { "X-Schema-Doc-Id": schema.value } }),
            );
            if (done) {
              showStatus("Schema doc attached: new bins and updates in this collection must pass it.");
              collectionsPage();
            }
          },
        },
        field(`Schema doc for ${label}`, schema),
        h("button", { type: "submit", text: "Attach schema doc" }),
      ),
      collection.schemaDocId
        ? h("button", {
            type: "button",
            text: "Detach schema doc",
            "aria-label": `Detach schema doc from ${label}`,
            onclick: async () => {
              const done = await attempt(() => call("PUT", `/c/${id(collection.record)}/schemadoc/remove`));
              if (done) {
                showStatus("Schema doc detached.");
                collectionsPage();
              }
            },
          })
        : null,
    );
  });
  page(
    "Collections",
    create,
    collections.length ? h("ul", { class: "cards" }, items) : h("p", { text: "No collections yet." }),
  );
}

async function schemasPage() {
  const known = knownSchemas();
  const name = h("input", { type: "text", maxlength: "32", autocomplete: "off" });
  const editor = recordEditor("Schema (JSON)", '{\n  "type": "object",\n  "required": ["name"]\n}');
  const openId = h("input", { type: "text", spellcheck: "false", autocomplete: "off" });
  // The API has no list of schema docs: the console knows those attached to a collection and
  // those created or opened in this tab.
  const collections = await attempt(() => call("GET", "/c"));
  for (const collection of collections?.data || []) {
    if (collection.schemaDocId && !known[collection.schemaDocId]) known[collection.schemaDocId] = "(attached)";
  }
  page(
    "Schema docs",
    h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          if (!editor.check()) return;
          const created = await attempt(
            () => call("POST", "/s", { headers: { "X-Schema-Doc-Name": name.value.trim() }, body: editor.area.value }),
            editor.parseError,
          );
          if (created) {
            rememberSchema(created.data.metadata.id, created.data.metadata.name);
            showStatus("Schema doc created.");
            window.location.hash = `#/schema/${created.data.metadata.id}`;
          }
        },
      },
      h("h2", { text: "New schema doc" }),
      field("Schema doc name", name),
      editor.element,
      h("button", { type: "submit", text: "Create schema doc" }),
    ),
    h(
      "form",
      {
        class: "inline",
        onsubmit: (event) => {
          event.preventDefault();
          if (!BIN_ID.test(openId.value.trim())) {
            showError("A schema doc id is 24 lowercase hexadecimal characters.");
            return;
          }
          window.location.hash = `#/schema/${openId.value.trim()}`;
        },
      },
      field("Schema doc id", openId),
      h("button", { type: "submit", text: "Open schema doc" }),
    ),
    h("h2", { text: "Known schema docs" }),
    Object.keys(known).length
      ? h(
          "ul",
          {},
          Object.entries(known).map(([schemaId, schemaName]) =>
            h("li", {}, h("a", { href: `#/schema/${schemaId}`, text: `${schemaName} (${schemaId})` })),
          ),
        )
      : h("p", { text: "None yet in this tab." }),
  );
}

async function schemaPage(schemaId) {
  const answer = await attempt(() => call("GET", `/s/${id(schemaId)}`));
  if (!answer) {
    page("Schema doc", h("p", {}, h("a", { href: "#/schemas", text: "Back to schema docs" })));
    return;
  }
  rememberSchema(schemaId, answer.data.metadata.name);
  const name = h("input", { type: "text", maxlength: "32", value: answer.data.metadata.name, autocomplete: "off" });
  const editor = recordEditor("Schema (JSON)", canonicalText(answer.data.record));
  page(
    `Schema doc ${answer.data.metadata.name}`,
    h("p", {}, "Id ", h("code", { text: schemaId }), " ", h("a", { href: "#/schemas", text: "Back to schema docs" })),
    h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          if (!editor.check()) return;
          const saved = await attempt(
            () => call("PUT", `/s/${id(schemaId)}`, { headers: { "X-Schema-Doc-Name": name.value.trim() }, body: editor.area.value }),
            editor.parseError,
          );
          if (saved) {
            rememberSchema(schemaId, saved.data.metadata.name);
            showStatus("Schema doc saved. Bins already stored are not validated again.");
          }
        },
      },
      field("Schema doc name", name),
      editor.element,
      h("button", { type: "submit", text: "Save schema doc" }),
    ),
  );
}

// ---- access keys (master key only) ---------------------------------------------------------

async function keysPage() {
  const answer = await attempt(() => call("GET", "/a"));
  const keys = answer?.data || [];
  const name = h("input", { type: "text", maxlength: "32", autocomplete: "off" });
  const permissions = ["create", "read", "update", "delete"].map((p) => [p, checkbox(p[0].toUpperCase() + p.slice(1), p === "read")]);
  const secret = h("div", { class: "secret", role: "status" });
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const bins = Object.fromEntries(permissions.map(([p, box]) => [p, box.input.checked]));
        const created = await attempt(() => call("POST", "/a", { headers: { "X-Key-Name": name.value.trim() }, body: { bins } }));
        if (!created) return;
        await keysPage();
        const shown = document.querySelector(".secret");
        shown.replaceChildren(
          h("p", { text: `Access key ${created.data.metadata.name} created. Copy it now: it is shown only once.` }),
          h("code", { class: "secret-value", text: created.data.accessKey }),
          h("button", {
            type: "button",
            text: "Done, hide the key",
            onclick: () => {
              shown.replaceChildren();
            },
          }),
        );
      },
    },
    h("h2", { text: "New access key" }),
    field("Key name", name),
    h("fieldset", {}, h("legend", { text: "Permissions on bins" }), permissions.map(([, box]) => box.element)),
    h("button", { type: "submit", text: "Create access key" }),
  );
  const rows = keys.map((key) =>
    h(
      "tr",
      {},
      h("th", { scope: "row", text: key.metadata.name }),
      h("td", {}, h("code", { text: key.accessKeyId })),
      h("td", { text: Object.entries(key.keyPermissions.bins).filter(([, on]) => on).map(([p]) => p).join(", ") || "none" }),
      h("td", {}, h("code", { text: key.accessKey })),
      h("td", { text: when(key.metadata.createdAt) }),
      h(
        "td",
        {},
        h("button", {
          type: "button",
          class: "danger",
          text: "Delete",
          "aria-label": `Delete access key ${key.metadata.name}`,
          onclick: async () => {
            const sure = await confirmAction(
              "Delete this access key?",
              h("p", { text: `Requests with the access key ${key.metadata.name} will answer 401 from now on.` }),
              "Delete access key",
            );
            if (!sure) return;
            const deleted = await attempt(() => call("DELETE", `/a/${id(key.accessKeyId)}`));
            if (deleted) {
              await keysPage();
              showStatus("Access key deleted.");
            }
          },
        }),
      ),
    ),
  );
  page(
    "Access keys",
    secret,
    keys.length
      ? h(
          "table",
          {},
          h("caption", { text: "The account's access keys (secrets are never shown again)" }),
          h("thead", {}, h("tr", {}, ["Name", "Id", "Permissions", "Key", "Created", "Actions"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, rows),
        )
      : h("p", { text: "No access keys yet." }),
    form,
  );
}

// ---- routing -------------------------------------------------------------------------------

async function route() {
  const hash = window.location.hash || "#/";
  const parts = hash.replace(/^#\/?/, "").split("/");
  if (!signedIn()) {
    renderNav();
    signInPage();
    return;
  }
  renderNav();
  const [section, arg, sub] = parts;
  try {
    if (section === "bin" && BIN_ID.test(arg || "")) {
      await (sub === "versions" ? versionsPage(arg) : binPage(arg));
    } else if (section === "new") {
      await newBinPage();
    } else if (section === "collections" && isMaster()) {
      await collectionsPage();
    } else if (section === "schemas" && isMaster()) {
      await schemasPage();
    } else if (section === "schema" && isMaster() && BIN_ID.test(arg || "")) {
      await schemaPage(arg);
    } else if (section === "keys" && isMaster()) {
      await keysPage();
    } else {
      if (section !== "bins") {
        window.history.replaceState(null, "", "#/bins");
        renderNav();
      }
      await binsPage();
    }
  } catch (error) {
    showError(error);
  }
}

window.addEventListener("hashchange", () => {
  // A message says what the last action did: it stays across the navigation that action made.
  errorBanner.replaceChildren();
  if (Date.now() - statusSetAt > 1000) statusBanner.replaceChildren();
  route();
});
route();
