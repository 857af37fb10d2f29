// A node:test reporter (node --test-reporter=./tap-reporter.mjs, Node >= 18.17) that writes
// flat TAP for automake's tap-driver.sh: one result line per test that ran, at column 0,
// so `make check` counts and names every browser test, a skipped one as SKIP with its
// reason. Tests that only group others (suites, tests with subtests) count through their
// children, except when they fail themselves. A file in which no test ran is a failure:
// a runner that ran nothing must not pass.
import { inspect } from 'node:util';

const tapName = (name) => String(name).replace(/[\r\n]+/g, ' ').replace(/#/g, '\\#');
const comment = (text) => String(text).split('\n').map((l) => `# ${l}\n`).join('');

export default async function* tapReporter(source) {
  let count = 0;
  const hasChild = []; // hasChild[nesting]: the test running at that depth started a subtest
  yield 'TAP version 13\n';
  for await (const { type, data } of source) {
    if (type === 'test:start') {
      if (data.nesting > 0) hasChild[data.nesting - 1] = true;
      hasChild[data.nesting] = false;
    } else if (type === 'test:pass' || type === 'test:fail') {
      const group = data.details?.type === 'suite' || hasChild[data.nesting];
      hasChild[data.nesting] = false;
      if (group && type === 'test:pass') continue;
      count += 1;
      let line = `${type === 'test:pass' ? 'ok' : 'not ok'} ${count} - ${tapName(data.name)}`;
      if (data.skip !== undefined && data.skip !== false) line += ` # SKIP ${data.skip === true ? '' : tapName(data.skip)}`;
      else if (data.todo !== undefined && data.todo !== false) line += ` # TODO ${data.todo === true ? '' : tapName(data.todo)}`;
      yield `${line}\n`;
      if (type === 'test:fail') {
        const err = data.details?.error;
        yield comment(inspect(err?.cause ?? err, { depth: 4 }));
      }
    } else if (type === 'test:diagnostic') {
      yield comment(data.message);
    }
  }
  if (count === 0) {
    count = 1;
    yield 'not ok 1 - no test ran in this file (a runner that runs nothing must not pass)\n';
  }
  yield `1..${count}\n`;
}
