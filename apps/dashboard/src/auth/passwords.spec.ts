import { hashPassword, verifyPassword } from './passwords';

// Cheap parameters keep the test fast; the format and the checks are the same.
const fast = { N: 2 ** 10, r: 8, p: 1 };

describe('password hashing (scrypt)', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery', fast);
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    await expect(verifyPassword('correct horse battery', stored)).resolves.toBe(true);
    await expect(verifyPassword('correct horse batterY', stored)).resolves.toBe(false);
    await expect(verifyPassword('', stored)).resolves.toBe(false);
  });

  it('salts every hash', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', fast), hashPassword('same password', fast)]);
    expect(a).not.toBe(b);
  });

  it('treats canonically equal Unicode the same (NFC)', async () => {
    const stored = await hashPassword('caf\u00e9 au lait!', fast);
    await expect(verifyPassword('cafe\u0301 au lait!', stored)).resolves.toBe(true);
  });

  it.each(['', 'bcrypt$x', 'scrypt$0$8$1$AAAA$BBBB', 'scrypt$1024$8$1$AAAA$short', 'scrypt$x$y$z$a$b'])('refuses an unreadable stored hash %j', async (stored) => {
    await expect(verifyPassword('anything', stored)).resolves.toBe(false);
  });
});
