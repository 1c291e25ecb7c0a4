import { readFileSync } from 'node:fs';
import { generateAll } from '../src/generate.js';

describe('generated types', () => {
  it('are up to date with every document (run `npm run generate -w openapi` if this fails)', async () => {
    const files = await generateAll();
    expect(files.map((f) => f.document)).toContain('provider.yaml');
    for (const file of files) {
      let checkedIn = '';
      try {
        checkedIn = readFileSync(file.output, 'utf8');
      } catch {
        // missing file: reported by the comparison below
      }
      expect({ file: file.document, text: checkedIn }).toEqual({
        file: file.document,
        text: file.text,
      });
    }
  });
});
