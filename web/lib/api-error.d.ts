/** Types of api-error.js. */
export declare class ApiError extends Error {
  constructor(status: number, code: string, message: string);
  status: number;
  code: string;
}
export declare function readJson(res: Response): Promise<any>;
export declare function networkError(err: unknown): ApiError;
