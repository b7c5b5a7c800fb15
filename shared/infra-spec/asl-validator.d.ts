/** asl-validator 4 ships no types: the one call the tests make. */
declare module "asl-validator" {
  export default function validator(
    definition: object,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): { isValid: boolean; errors: Array<{ message: string }> };
}
