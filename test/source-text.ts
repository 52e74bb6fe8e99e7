// Reading source text for the checks on the repository itself (repo-paths, import-graph).

/**
 * The comments of a TypeScript or JavaScript source, joined by newlines. A small lexer (the
 * installed compiler is the native one, with no JavaScript API): it steps over strings, template
 * literals with their `${…}` holes, and regex literals (a `/` after an operator or an opening
 * bracket), so a `//` inside any of them is not taken for a comment.
 */
export function tsComments(text: string): string {
  const out: string[] = [];
  const holes: number[] = []; // brace depth at each open `${`, innermost last
  let depth = 0;
  let prev = ''; // the last significant character outside comments
  let i = 0;
  const template = () => {
    // from just after a backtick or a hole's closing brace, to the end or the next hole
    for (; i < text.length; i++) {
      if (text[i] === '\\') i++;
      else if (text[i] === '`') {
        i++;
        return;
      } else if (text[i] === '$' && text[i + 1] === '{') {
        holes.push(depth++);
        i += 2;
        return;
      }
    }
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i);
      out.push(text.slice(i, end < 0 ? text.length : end));
      i = end < 0 ? text.length : end;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      out.push(text.slice(i, end < 0 ? text.length : end + 2));
      i = end < 0 ? text.length : end + 2;
    } else if (c === "'" || c === '"') {
      for (i++; i < text.length && text[i] !== c && text[i] !== '\n'; i++) if (text[i] === '\\') i++;
      i++;
      prev = c;
    } else if (c === '`') {
      i++;
      template();
      prev = c;
    } else if (c === '/' && (prev === '' || '(,=:[!&|?{};+-*%<>~^'.includes(prev))) {
      let inClass = false;
      for (i++; i < text.length && text[i] !== '\n'; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        else if (text[i] === '/' && !inClass) break;
      }
      i++;
      prev = '/x'; // a regex literal ends an operand
    } else {
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (holes.length > 0 && holes[holes.length - 1] === depth) {
          holes.pop();
          i++;
          template();
          prev = '`';
          continue;
        }
      }
      if (!/\s/.test(c)) prev = /[A-Za-z0-9_$)\]]/.test(c) ? 'x' : c;
      i++;
    }
  }
  return out.join('\n');
}
