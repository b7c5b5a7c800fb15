/** Lambda entry: placeholder until the runtime lands (replaced in the same change series). */
export const handler = async (): Promise<void> => {};
