// @ts-check
// DOM helpers: typed element look-ups, an element builder, and what a <select> offers.

/**
 * The element with this id, which must be of this type (the page is ours: anything else is a
 * bug worth failing loudly on).
 * @template {Element} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return el;
}

/** @typedef {string | number | boolean | null | undefined} AttrValue */

/**
 * A new element. `class` and `text` set className and textContent; null, undefined and false
 * leave an attribute out, true sets it empty.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, AttrValue> | null} attrs
 * @param {...(Node | string | null | undefined)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

/**
 * The values a <select> offers: the page's markup lists exactly what the server accepts.
 * @param {HTMLSelectElement} select
 * @returns {string[]}
 */
export function optionValues(select) {
  return Array.from(select.options, (o) => o.value);
}

/**
 * The value a <select> starts with in the markup (its `selected` option, else the first),
 * whatever the browser restored since.
 * @param {HTMLSelectElement} select
 * @returns {string}
 */
export function defaultValue(select) {
  const options = Array.from(select.options);
  return (options.find((o) => o.defaultSelected) ?? options[0])?.value ?? '';
}

/**
 * The element an event happened on or inside, when it is an Element.
 * @param {Event} ev
 * @returns {Element | null}
 */
export function eventElement(ev) {
  return ev.target instanceof Element ? ev.target : null;
}
