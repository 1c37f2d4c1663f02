// Claims mapper for the session-to-JWT tokenizer template "jwt_example"
// (kratos.yml: session.whoami.tokenizer.templates.jwt_example.claims_mapper_url).
//
// Kratos passes the default claims (jti, iss, exp, sub, sid, nbf, iat) as
// std.extVar('claims') and the whole session as std.extVar('session').
// Whatever is under "claims" in the result is merged over the defaults;
// Kratos always forces "sub" back to the identity id afterwards.
local claims = std.extVar('claims');
local session = std.extVar('session');
local identity = session.identity;
local traits = if std.objectHas(identity, 'traits') && identity.traits != null then identity.traits else {};
local meta = if std.objectHas(identity, 'metadata_public') && identity.metadata_public != null then identity.metadata_public else {};

{
  claims: claims {
    // Binds the token to this template. Kratos sets no aud of its own, and the same
    // keys may sign the tokens of other templates (and, on Ory Network, OAuth2 ID
    // tokens): the service accepts only tokens whose aud names its template
    // (ORY_JWT_TEMPLATE, or ORY_JWT_AUDIENCE when set). Give every template its own.
    aud: ['jwt_example'],
    aal: session.authenticator_assurance_level,
    [if std.objectHas(traits, 'email') then 'email']: traits.email,
    // The service reads metadata_public.role from here for admin routes, as it does
    // from a whoami session.
    metadata_public: meta,
  },
}
