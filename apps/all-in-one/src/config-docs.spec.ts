/**
 * docs/configuration.md is what operators read: every key of every app must
 * be there, with its default, in the section of its app.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dashboardConfigSpec } from '@meetedge/dashboard';
import type { ConfigSpec } from '@meetedge/service-kit';
import { sfuConfigSpec } from '@meetedge/sfu';
import { zcpConfigSpec } from '@meetedge/zcp';
import { allInOneConfigSpec } from './config';

const doc = readFileSync(path.resolve(__dirname, '../../../docs/configuration.md'), 'utf8');

function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}`);
  if (start < 0) throw new Error(`docs/configuration.md has no section "${title}"`);
  const next = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

describe('docs/configuration.md', () => {
  it.each([
    ['sfu', sfuConfigSpec],
    ['zcp', zcpConfigSpec],
    ['dashboard', dashboardConfigSpec],
    ['all-in-one', allInOneConfigSpec],
  ] as [string, ConfigSpec][])('documents every key of %s with its default', (app, spec) => {
    const text = section(app) + section('Every service');
    for (const key of Object.values(spec)) {
      const expected = 'default' in key ? `\`${String(key.default)}\`` : 'required';
      const row = text.split('\n').find((line) => line.startsWith(`| \`${key.env}\` |`));
      expect([key.env, row?.split('|')[2]?.trim()]).toEqual([key.env, expected]);
    }
  });
});
