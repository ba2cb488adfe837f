/**
 * A process that competes for the embedded lock when the test tells it to (over IPC), at a
 * start time shared with the other racers, and holds what it won until told to release it.
 */
import { acquireEmbeddedLock, type EmbeddedLock } from '../../core/db/embeddedLock.js';
import { isCreditkeeperError } from '../../core/errors.js';

export type RacerCommand =
  | { kind: 'acquire'; dataDir: string; startAt: number }
  | { kind: 'release' }
  /** Ends without releasing: the lock is left to the 'exit' handler. */
  | { kind: 'exit' };

export type RacerReply =
  | { kind: 'ready'; pid: number }
  | { kind: 'acquired'; pid: number }
  | { kind: 'refused'; pid: number; message: string }
  | { kind: 'released'; pid: number };

const send = (reply: RacerReply) => process.send!(reply);
let held: EmbeddedLock | undefined;

process.on('message', (command: RacerCommand) => {
  if (command.kind === 'acquire') {
    // A timer gets close; spinning the last milliseconds lines the racers up to the same instant.
    setTimeout(() => {
      while (Date.now() < command.startAt);
      try {
        held = acquireEmbeddedLock(command.dataDir);
        send({ kind: 'acquired', pid: process.pid });
      } catch (error) {
        if (!isCreditkeeperError(error, 'DATABASE_LOCKED')) throw error;
        send({ kind: 'refused', pid: process.pid, message: error.message });
      }
    }, command.startAt - Date.now() - 5);
  } else if (command.kind === 'release') {
    held?.release();
    held = undefined;
    send({ kind: 'released', pid: process.pid });
  } else {
    process.exit(0);
  }
});
// The test went away: so does the racer.
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready', pid: process.pid });
