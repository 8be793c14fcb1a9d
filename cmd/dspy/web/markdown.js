// A small Markdown renderer for model output that cannot inject HTML: it
// builds DOM nodes with createElement and text nodes only, never parses
// markup, so "<img src=x onerror=...>" in a reply is shown as those
// characters. Links keep only http, https and mailto URLs.
//
// Blocks: paragraphs (a single newline is a line break), # headings, ```
// fenced code, > quotes, - / * / + and 1. lists, --- rules. Inline: `code`,
// **strong**, *em* / _em_, [text](url), bare http(s) URLs, \ escapes.

const el = (tag, text) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  return e;
};

// safeURL returns the absolute URL if its scheme is allowed, else null.
export function safeURL(href) {
  let u;
  try {
    u = new URL(href, document.baseURI);
  } catch {
    return null;
  }
  return ['http:', 'https:', 'mailto:'].includes(u.protocol) ? u.href : null;
}

// link renders [text](href): a link when href's scheme is allowed, else
// the text alone. The text is inline Markdown without links (no link in a
// link, and an autolink's text is its URL).
function link(parent, text, href) {
  const url = safeURL(href);
  if (!url) {
    inline(parent, text, true);
    return;
  }
  const a = el('a');
  a.href = url;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  inline(a, text, true);
  parent.append(a);
}

const escapable = /[\\`*_{}[\]()#+\-.!~>|]/;
const wordChar = /[\p{L}\p{N}_]/u;

// closing finds the end of an emphasis run opened at i by marker.
function closing(text, marker, from) {
  for (let j = text.indexOf(marker, from); j >= 0; j = text.indexOf(marker, j + 1)) {
    if (text[j - 1] === ' ' || text[j - 1] === '\\') continue;
    if (marker.length === 1 && text[j + 1] === marker) { j++; continue; } // part of **
    if (marker[0] === '_' && j + marker.length < text.length && wordChar.test(text[j + marker.length])) continue;
    return j;
  }
  return -1;
}

// inline renders a run of inline Markdown into parent; noLinks leaves
// links and URLs as text.
export function inline(parent, text, noLinks = false) {
  let buf = '';
  const flush = () => {
    if (buf) parent.append(document.createTextNode(buf));
    buf = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const rest = text.slice(i);
    if (c === '\\' && i + 1 < text.length && escapable.test(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const j = text.indexOf('`', i + 1);
      if (j > i + 1) {
        flush();
        parent.append(el('code', text.slice(i + 1, j)));
        i = j + 1;
        continue;
      }
    }
    if ((rest.startsWith('**') || rest.startsWith('__')) && text[i + 2] && text[i + 2] !== ' ' &&
        !(c === '_' && i > 0 && wordChar.test(text[i - 1]))) {
      const j = closing(text, rest.slice(0, 2), i + 2);
      if (j > i + 2) {
        flush();
        const s = el('strong');
        inline(s, text.slice(i + 2, j), noLinks);
        parent.append(s);
        i = j + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] && text[i + 1] !== ' ' && text[i + 1] !== c &&
        !(c === '_' && i > 0 && wordChar.test(text[i - 1]))) {
      const j = closing(text, c, i + 1);
      if (j > i + 1) {
        flush();
        const em = el('em');
        inline(em, text.slice(i + 1, j), noLinks);
        parent.append(em);
        i = j + 1;
        continue;
      }
    }
    if (!noLinks && (c === '[' || (c === '!' && text[i + 1] === '['))) {
      const m = /^!?\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/.exec(rest);
      if (m) {
        flush();
        link(parent, m[1] || m[2], m[2]);
        i += m[0].length;
        continue;
      }
    }
    if (!noLinks && c === 'h' && (i === 0 || !wordChar.test(text[i - 1]))) {
      const m = /^https?:\/\/[^\s<>]*[^\s<>.,;:!?'")\]]/.exec(rest);
      if (m) {
        flush();
        link(parent, m[0], m[0]);
        i += m[0].length;
        continue;
      }
    }
    buf += c;
    i++;
  }
  flush();
}

const listItem = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;

// renderMarkdown returns a fragment holding text rendered as Markdown.
export function renderMarkdown(text) {
  const frag = document.createDocumentFragment();
  blocks(frag, text.replace(/\r\n?/g, '\n').split('\n'));
  return frag;
}

function blocks(parent, lines) {
  let para = [];
  const endPara = () => {
    if (!para.length) return;
    const p = el('p');
    para.forEach((line, k) => {
      if (k > 0) p.append(el('br'));
      inline(p, line);
    });
    parent.append(p);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if ((m = /^\s*(```+|~~~+)\s*([\w+-]*)/.exec(line))) {
      endPara();
      const fence = m[1];
      const code = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) code.push(lines[i]);
      const pre = el('pre');
      const c = el('code', code.join('\n'));
      if (m[2]) c.dataset.lang = m[2];
      pre.append(c);
      parent.append(pre);
      continue;
    }
    if (line.trim() === '') {
      endPara();
      continue;
    }
    if ((m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
      endPara();
      const h = el('h' + Math.min(6, m[1].length + 2)); // inside an answer, # is a section
      inline(h, m[2]);
      parent.append(h);
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      endPara();
      parent.append(el('hr'));
      continue;
    }
    if (/^\s*>/.test(line)) {
      endPara();
      const quoted = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*>\s?/, ''));
      i--;
      const q = el('blockquote');
      blocks(q, quoted);
      parent.append(q);
      continue;
    }
    if ((m = listItem.exec(line))) {
      endPara();
      const ordered = /\d/.test(m[2]);
      const list = el(ordered ? 'ol' : 'ul');
      if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
      const indent = m[1].length;
      let item = null;
      for (; i < lines.length; i++) {
        const l = lines[i];
        const im = listItem.exec(l);
        if (im && im[1].length <= indent + 1 && /\d/.test(im[2]) === ordered) {
          item = el('li');
          inline(item, im[3]);
          list.append(item);
        } else if (item && l.trim() !== '' && /^\s+/.test(l)) {
          item.append(el('br')); // a continuation line of the item
          inline(item, l.trim());
        } else {
          break;
        }
      }
      i--;
      parent.append(list);
      continue;
    }
    para.push(line);
  }
  endPara();
}
