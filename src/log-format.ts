// Which log format a node process writes. Apart from logger.ts so the CLI can offer the
// choice without loading pino.

/** `json`: one JSON object a line (files, pipes, log shippers); `pretty`: colored text for a person. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `--log-format` when given; else pretty on a terminal and JSON lines anywhere else. */
export function chooseLogFormat(flag: LogFormat | undefined, stdoutIsTty: boolean): LogFormat {
  return flag ?? (stdoutIsTty ? 'pretty' : 'json');
}
