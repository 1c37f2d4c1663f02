// Body of the Ory Actions webhooks kratos/hooks.yml sends to the service
// (POST /hooks/ory/registration and /hooks/ory/settings). Only what the service
// needs: never ctx.request_headers or ctx.request_cookies (they carry the user's
// session cookie), never credentials. The service decodes it strictly: a field
// added here must be added to handlers/hooks.go too.
function(ctx) {
  identity: {
    id: ctx.identity.id,
    traits: {
      email: if std.objectHas(ctx.identity.traits, 'email') then ctx.identity.traits.email else null,
    },
    metadata_public: ctx.identity.metadata_public,
  },
}
