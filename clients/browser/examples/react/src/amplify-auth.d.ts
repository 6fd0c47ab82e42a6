// The one Amplify v6 call this example uses, declared so that it type-checks without installing aws-amplify.
// In your app: `npm install aws-amplify` and delete this file.
declare module "aws-amplify/auth" {
  export function fetchAuthSession(options?: {
    forceRefresh?: boolean;
  }): Promise<{ tokens?: { idToken?: { toString(): string }; accessToken: { toString(): string } } }>;
}
