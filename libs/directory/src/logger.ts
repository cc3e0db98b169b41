/** The slice of a pino logger the directory uses (object first, message second, as pino does). */
export interface DirectoryLogger {
  warn(obj: object, msg: string): void;
}
