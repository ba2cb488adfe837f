import type { Command } from '../command.js';
import { activity } from './activity.js';
import { adjust } from './adjust.js';
import { cost } from './cost.js';
import { credits } from './credits.js';
import { grant } from './grant.js';
import { link } from './link.js';
import { lookup } from './lookup.js';
import { refund } from './refund.js';
import { scheduled } from './scheduled.js';
import { unschedule } from './unschedule.js';
import { usage } from './usage.js';
import { voidGrant } from './voidGrant.js';
import { why } from './why.js';
import { writeoff } from './writeoff.js';

/** Every chat command, in the order help lists them. */
export const commands: Command[] = [credits, activity, why, usage, cost, link, lookup, adjust, refund, writeoff, grant, scheduled, unschedule, voidGrant];
