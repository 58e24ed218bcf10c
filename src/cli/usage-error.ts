/**
 * The command line itself is wrong (a bad option value, a missing broker list): the CLI
 * prints the message and exits with 2, as commander does for its own parse errors.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
