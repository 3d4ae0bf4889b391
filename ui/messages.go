package ui

// msgEN is the English catalogue: the reference every other language
// must match key for key.
var msgEN = map[string]string{
	"signin.title":       "Sign in",
	"signin.linkRefused": "This sign-in link is not valid: it was already used, it has expired, or it never existed. Sign in with an API key.",
}

// msgPT is the Brazilian Portuguese catalogue. Proxmox VE, NetBox, API,
// TLS, sync stage names and HTTP header names stay as they are.
var msgPT = map[string]string{
	"signin.title":       "Entrar",
	"signin.linkRefused": "Este link de acesso não é válido: já foi usado, expirou ou nunca existiu. Entre com uma chave de API.",
}
