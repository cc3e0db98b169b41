import { linkScope } from './scope';

describe('linkScope', () => {
  it('on the cloud MMR every link is north-south', () => {
    expect(linkScope('cloud', 'cloud-hybrid')).toBe('north-south');
    expect(linkScope('cloud', 'internal-only')).toBe('north-south');
  });

  it('on a module a cloud-hybrid link is north-south, an internal-only one east-west', () => {
    expect(linkScope('edge', 'cloud-hybrid')).toBe('north-south');
    expect(linkScope('edge', 'internal-only')).toBe('east-west');
  });
});
