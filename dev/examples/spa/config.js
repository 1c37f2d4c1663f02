// Where Ory and the API are, as the browser reaches them. The browser test serves its
// own copy of this file with the ports it picked.
window.SPA_CONFIG = {
  ory: "http://auth.example.test:4433",
  api: "http://api.example.test:8080",
};
