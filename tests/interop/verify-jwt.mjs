// Verifies a Gatehouse identity assertion with an independent JOSE implementation (jose), the
// way an upstream service would: against the JWKS Gatehouse serves, for an issuer and audience.
//
//   node verify-jwt.mjs <jwks-url> <issuer> <audience> <token>...
//
// Prints one JSON line per token: {"ok":true,"payload":...,"header":...} or
// {"ok":false,"code":"ERR_JWT_EXPIRED"} (jose's error code).
import { createLocalJWKSet, jwtVerify } from "jose";

const [jwksUrl, issuer, audience, ...tokens] = process.argv.slice(2);
const jwks = createLocalJWKSet(await (await fetch(jwksUrl)).json());
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: ["EdDSA", "ES256", "RS256"],
    });
    console.log(JSON.stringify({ ok: true, payload, header: protectedHeader }));
  } catch (error) {
    console.log(JSON.stringify({ ok: false, code: error.code ?? String(error) }));
  }
}
