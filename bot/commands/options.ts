import { z } from 'zod';

/** Option pieces the commands share. Options arrive as text (console, Slack) or typed (Discord). */
export const accountOption = z.string().trim().min(1).max(401).optional().describe('an organisation (or organisation/client) you belong to');
export const accountIdOption = z.uuid({ message: 'must be an account id (from /lookup)' }).describe('the account id, from /lookup');
export const reasonOption = z.string().max(500).describe('why: the user sees it on their log');
export const creditsOption = z.union([z.number(), z.string()]).describe('whole credits');
