/**
 * The errors both `Directory` implementations throw, built in one place so
 * the two answer with the same code, message and details for the same
 * refusal. Details carry ids only: never an e-mail address, a name or a hash.
 */
import { MeetedgeError } from '@meetedge/core';
import { MAX_MODULES_PER_NODE } from './directory';

type RecordKind = 'account' | 'user' | 'meeting' | 'zone' | 'node' | 'module';

export const failures = {
  notFound: (kind: RecordKind, id: string): MeetedgeError =>
    new MeetedgeError('NOT_FOUND', `${kind} ${id} does not exist`, { [`${kind}Id`]: id }),

  /** A parent that is missing or belongs to another account: the two are not told apart. */
  parentNotFound: (kind: 'account' | 'zone' | 'node', id: string, accountId: string): MeetedgeError =>
    new MeetedgeError(
      'NOT_FOUND',
      kind === 'account' ? `account ${id} does not exist` : `${kind} ${id} does not exist in account ${accountId}`,
      { [`${kind}Id`]: id },
    ),

  idTaken: (kind: RecordKind, id: string): MeetedgeError =>
    new MeetedgeError('ALREADY_EXISTS', `${kind} ${id} already exists`, { [`${kind}Id`]: id }),

  emailTaken: (): MeetedgeError =>
    new MeetedgeError('ALREADY_EXISTS', 'a user with this e-mail address already exists', { field: 'email' }),

  nodeFull: (nodeId: string): MeetedgeError =>
    new MeetedgeError('CONFLICT', `node ${nodeId} already runs ${MAX_MODULES_PER_NODE} modules, the most a node may run`, {
      nodeId,
      maxModules: MAX_MODULES_PER_NODE,
    }),

  zoneHasNodes: (zoneId: string): MeetedgeError =>
    new MeetedgeError('CONFLICT', `zone ${zoneId} still has nodes; delete them first`, { zoneId }),

  nodeHasModules: (nodeId: string): MeetedgeError =>
    new MeetedgeError('CONFLICT', `node ${nodeId} still runs modules; remove them first`, { nodeId }),

  versionMismatch: (meetingId: string, expectedVersion: number, version: number): MeetedgeError =>
    new MeetedgeError('CONFLICT', `meeting ${meetingId} is at version ${version}, not ${expectedVersion}`, {
      meetingId,
      expectedVersion,
      version,
    }),

  closed: (): MeetedgeError => new MeetedgeError('UNAVAILABLE', 'directory is closed'),
};
