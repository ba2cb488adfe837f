import type { Response } from 'express';

/** Streams CSV chunks to the response, waiting for the socket to drain: constant memory at any size. */
export async function streamCsv(res: Response, chunks: AsyncIterable<string>): Promise<void> {
  res.status(200).type('text/csv; charset=utf-8').setHeader('content-disposition', 'attachment; filename="activity.csv"');
  for await (const chunk of chunks) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.end();
}
