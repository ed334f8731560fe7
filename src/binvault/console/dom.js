// Building the page: elements and text nodes only. Nothing from the API (records, names,
// messages) is ever parsed as HTML: there is no innerHTML anywhere in the console.

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden"]);

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      element.textContent = String(value);
    } else if (PROPERTIES.has(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

let unique = 0;
export function uid(prefix) {
  unique += 1;
  return `${prefix}-${unique}`;
}

// A labelled field: <label for> + the control, so every control has a visible name.
export function field(label, control, hint) {
  control.id = control.id || uid("field");
  const parts = [h("label", { for: control.id, text: label }), control];
  if (hint) {
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("p", { class: "hint", id: hintId, text: hint }));
  }
  return h("div", { class: "field" }, parts);
}

export function checkbox(label, checked) {
  const input = h("input", { type: "checkbox", checked: Boolean(checked), id: uid("check") });
  return { input, element: h("div", { class: "check" }, input, h("label", { for: input.id, text: label })) };
}

export function bytes(count) {
  if (count === null || count === undefined) return "unknown";
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KB`;
  return `${(count / 1024 / 1024).toFixed(2)} MB`;
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}
