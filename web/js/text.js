// Message text as the page shows it: ``` code blocks ```, inline `code`, clickable
// http/https/mailto links, and the reader's own name marked. Built with DOM APIs
// only (createTextNode, textContent, the href property): no string is ever parsed
// as HTML, and a link is made only from a URL whose protocol is on the list.
import { el } from './util.js';

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);
const FENCE_RE = /```(?:[A-Za-z0-9_+.#-]*\n)?([\s\S]*?)```/g;
const INLINE_CODE_RE = /`([^`\n]+)`/g;
const URL_RE = /\b(?:https?:\/\/|mailto:)[^\s<>"'`]+/gi;
const WORD = '\\p{L}\\p{N}\\p{M}_';

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
let mentionCache = { name: null, re: null };

/** A regexp matching name as a whole word, any case ("alice" in "malice" is not one). */
function mentionRe(name) {
  if (mentionCache.name !== name) {
    mentionCache = { name, re: name ? new RegExp(`(?<![${WORD}])${escapeRe(name)}(?![${WORD}])`, 'giu') : null };
  }
  return mentionCache.re;
}

/** True when text names `name` as a whole word, in any case. */
export function mentions(text, name) {
  if (!name || typeof text !== 'string') return false;
  // Most messages do not contain the name at all: a plain search says so without the regexp.
  if (!text.toLowerCase().includes(name.toLowerCase())) return false;
  const re = mentionRe(name);
  re.lastIndex = 0;
  return re.test(text);
}

/** The URL a link may point to (a parsed http/https/mailto URL's href), or null. */
export function safeHref(raw) {
  let url;
  try { url = new URL(raw); } catch { return null; }
  return SAFE_PROTOCOLS.has(url.protocol) ? url.href : null;
}

/** Splits a matched URL from punctuation that ends the sentence around it ("see https://x.org/a)."). */
function trimUrl(raw) {
  let url = raw;
  for (;;) {
    const last = url[url.length - 1];
    if (/[.,;:!?'"]/.test(last)) { url = url.slice(0, -1); continue; }
    if (last === ')' && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) { url = url.slice(0, -1); continue; }
    break;
  }
  return url;
}

/** Appends plain text to parent, with every whole-word `me` in a <mark>. */
function appendMarked(parent, text, me) {
  const re = mentionRe(me);
  if (!re) { parent.append(text); return; }
  re.lastIndex = 0;
  let at = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > at) parent.append(text.slice(at, m.index));
    parent.append(el('mark', 'mention', m[0]));
    at = m.index + m[0].length;
  }
  if (at < text.length) parent.append(text.slice(at));
}

/** Appends text with links (and marks) to parent. */
function appendLinked(parent, text, me) {
  let at = 0;
  URL_RE.lastIndex = 0;
  for (let m = URL_RE.exec(text); m; m = URL_RE.exec(text)) {
    const raw = trimUrl(m[0]);
    const href = safeHref(raw);
    if (!href || raw.length <= raw.indexOf(':') + 1) continue;
    if (m.index > at) appendMarked(parent, text.slice(at, m.index), me);
    const a = el('a', 'link', raw);
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    parent.append(a);
    at = m.index + raw.length;
    URL_RE.lastIndex = at;
  }
  if (at < text.length) appendMarked(parent, text.slice(at), me);
}

/** Appends text with inline `code`, links and marks to parent. */
function appendInline(parent, text, me) {
  let at = 0;
  INLINE_CODE_RE.lastIndex = 0;
  for (let m = INLINE_CODE_RE.exec(text); m; m = INLINE_CODE_RE.exec(text)) {
    if (m.index > at) appendLinked(parent, text.slice(at, m.index), me);
    parent.append(el('code', 'code', m[1]));
    at = m.index + m[0].length;
  }
  if (at < text.length) appendLinked(parent, text.slice(at), me);
}

/**
 * Fills parent (emptied first) with text as rich content: ```blocks```, `code`, links,
 * and the name `me` marked where it is mentioned. Plain text with none of these
 * becomes one text node (the common case stays cheap).
 */
export function renderRich(parent, text, me) {
  parent.textContent = '';
  const s = String(text ?? '');
  if (!/[`:]/.test(s) && !(me && s.toLowerCase().includes(me.toLowerCase()))) { parent.textContent = s; return; }
  let at = 0;
  FENCE_RE.lastIndex = 0;
  for (let m = FENCE_RE.exec(s); m; m = FENCE_RE.exec(s)) {
    if (m.index > at) appendInline(parent, s.slice(at, m.index).replace(/\n$/, ''), me);
    const pre = el('pre', 'code-block');
    pre.append(el('code', null, m[1].replace(/\n$/, '')));
    parent.append(pre);
    at = m.index + m[0].length;
    if (s[at] === '\n') at += 1;
  }
  if (at < s.length) appendInline(parent, s.slice(at), me);
}
