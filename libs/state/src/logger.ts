/** The slice of a pino logger the stores use (object first, message second, as pino does). */
export interface StateLogger {
  warn(obj: object, msg: string): void;
}
