import { AccountId, MeetingId, UserId } from '@meetedge/core';
import { MemoryDirectory } from './memory-directory';
import { openDirectory } from './open';
import { describeDirectoryContract, ManualClock, memoryDirectoryFactory } from './testing';

describeDirectoryContract('MemoryDirectory', memoryDirectoryFactory());

describe('MemoryDirectory', () => {
  const ACME = AccountId('acme');

  it('stamps records with the injected clock', async () => {
    const clock = new ManualClock(5_000);
    const directory = new MemoryDirectory({ now: clock.now });
    expect((await directory.createAccount({ id: ACME, name: 'Acme' })).createdAt).toBe(5_000);
    const created = await directory.createMeeting({
      id: MeetingId('m-1'),
      accountId: ACME,
      topic: 'Standup',
      mode: 'cloud-hybrid',
      e2ee: false,
      defaultQuality: 'SD',
      passcode: undefined,
      hostId: UserId('u-1'),
      startsAt: undefined,
      durationMinutes: 15,
      onTopLoss: 'recover',
    });
    expect(created).toMatchObject({ createdAt: 5_000, updatedAt: 5_000, version: 1 });
    clock.advance(250);
    expect(await directory.updateMeeting(MeetingId('m-1'), { topic: 'Daily' })).toMatchObject({
      createdAt: 5_000,
      updatedAt: 5_250,
      version: 2,
    });
    await directory.close();
  });

  it('an attempt window is [first attempt, first attempt + windowMs): its last ms still counts, its end starts a new one', async () => {
    const clock = new ManualClock(10_000);
    const directory = new MemoryDirectory({ now: clock.now });
    expect(await directory.countAttempt('k', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    clock.advance(999);
    expect(await directory.countAttempt('k', 1000)).toEqual({ count: 2, resetInMs: 1 });
    clock.advance(1);
    expect(await directory.countAttempt('k', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    await directory.close();
  });

  it('keeps counting correctly while ended windows of many other keys are dropped', async () => {
    const clock = new ManualClock();
    const directory = new MemoryDirectory({ now: clock.now });
    await directory.countAttempt('kept', 60_000);
    for (let i = 0; i < 3000; i++) await directory.countAttempt(`flood-${i}`, 10);
    clock.advance(20);
    for (let i = 0; i < 3000; i++) expect((await directory.countAttempt(`flood-${i}`, 10)).count).toBe(1);
    expect(await directory.countAttempt('kept', 60_000)).toEqual({ count: 2, resetInMs: 59_980 });
    await directory.close();
  });

  it('openDirectory() with state "memory" gives a MemoryDirectory and never touches Redis', async () => {
    const directory = await openDirectory({ state: 'memory', redisUrl: 'redis://127.0.0.1:1' }, { warn: () => undefined });
    expect(directory).toBeInstanceOf(MemoryDirectory);
    await directory.ping();
    await directory.close();
  });
});
