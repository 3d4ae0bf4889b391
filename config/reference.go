package config

import (
	"fmt"
	"strings"
)

// The configuration reference (docs/configuration.md and
// docs/pt-BR/configuration.md) is rendered from the options table by
// ReferenceMarkdown; `go generate ./docs/` writes the files and a test in
// docs/ fails when they differ from the table. Every row needs a Brazilian
// Portuguese help text in helpPTBR.

// helpEN fills the rows of the table that have no help text (aliases and
// variables without a flag).
var helpEN = map[string]string{
	"PROXBOX_DEBUG_CACHE": "1 logs every NetBox GET cache hit, miss, expiry, eviction and invalidation at debug level",
}

// helpPTBR is the Brazilian Portuguese help of every row, by variable.
var helpPTBR = map[string]string{
	"PORT":                                   "porta TCP da API e do painel",
	"PROXBOX_BIND_HOST":                      "endereço em que escutar (vazio: todas as interfaces, IPv4 e IPv6)",
	"PROXBOX_DATA_DIR":                       "diretório do banco, das chaves e dos certificados",
	"PROXBOX_ENCRYPTION_KEY":                 "frase secreta que cifra as credenciais guardadas, no mínimo 16 caracteres, derivada com argon2id (padrão: uma chave aleatória guardada no diretório de dados)",
	"PROXBOX_LOG_LEVEL":                      "nível de log: debug, info, warn ou error",
	"PROXBOX_LOG_FORMAT":                     "formato do log: text ou json",
	"PROXBOX_RATE_LIMIT":                     "requisições por minuto por IP de cliente (0 desativa)",
	"PROXBOX_CORS_EXTRA_ORIGINS":             "origens CORS adicionais, separadas por vírgula",
	"PROXBOX_TRUSTED_PROXIES":                "CIDRs cujo X-Forwarded-For é confiável, separados por vírgula",
	"PROXBOX_ALLOWED_TARGETS":                "CIDRs link-local ou de metadados permitidos como destino de endpoints, separados por vírgula",
	"PROXBOX_BOOTSTRAP_FROM":                 "CIDRs que podem registrar a primeira chave de API (vazio: loopback, faixas privadas e o endereço do endpoint NetBox; none: ninguém)",
	"PROXBOX_TLS":                            "modo TLS: off, local, acme ou files",
	"PROXBOX_TLS_NAMES":                      "nomes e IPs adicionais do certificado, separados por vírgulas e/ou espaços",
	"MKCERT_EXTRA_NAMES":                     "nomes e IPs adicionais do certificado (o nome que a imagem Python dava a PROXBOX_TLS_NAMES)",
	"PROXBOX_TLS_CERT":                       "arquivo da cadeia de certificados (modo files)",
	"PROXBOX_TLS_KEY":                        "arquivo da chave privada (modo files)",
	"PROXBOX_ACME_EMAIL":                     "e-mail da conta ACME (modo acme)",
	"PROXBOX_ACME_CA":                        "URL do diretório ACME, ou letsencrypt, letsencrypt-staging, zerossl (modo acme)",
	"PROXBOX_ACME_EAB_KID":                   "id da chave de external account binding ACME (ZeroSSL)",
	"PROXBOX_ACME_EAB_HMAC":                  "chave HMAC de external account binding ACME (ZeroSSL)",
	"CAROOT":                                 "diretório da CA local (padrão: <data-dir>/ca)",
	"PROXBOX_HTTP_REDIRECT_PORT":             "porta HTTP simples que redireciona para HTTPS e responde ao desafio ACME HTTP-01 (0: desligada)",
	"PROXBOX_METRICS_PUBLIC":                 "servir /metrics sem chave de API",
	"PROXBOX_PROXMOX_WRITES":                 "permitir que as rotas de escrita do plugin alterem o Proxmox (armar/desarmar HA); desligado: respondem 403",
	"PROXBOX_DEBUG_CACHE":                    "1 registra cada acerto, falha, expiração, despejo e invalidação do cache de GET do NetBox em nível debug",
	"PROXBOX_SYNC_INTERVAL":                  "executar uma sincronização completa de todos os endpoints nesta frequência, por exemplo 15m (0: só sob demanda; auto: 1h enquanto PROXBOX_WATCH estiver ligado, senão 0)",
	"PROXBOX_WATCH":                          "observar cada endpoint Proxmox (consultar /cluster/resources e /cluster/tasks) e sincronizar cada mudança em segundos; off: só sincronizações completas",
	"PROXBOX_WATCH_INTERVAL":                 "intervalo de consulta da observação, com jitter por endpoint (no mínimo 1s)",
	"PROXBOX_NETBOX_MAX_RETRIES":             "novas tentativas de uma requisição ao NetBox que falhou com 429, 5xx ou erro de conexão",
	"PROXBOX_NETBOX_RETRY_DELAY":             "primeira espera, em segundos, antes de repetir no NetBox (dobra, com jitter; Retry-After prevalece)",
	"PROXBOX_NETBOX_WRITE_CONCURRENCY":       "requisições ao NetBox em andamento ao mesmo tempo",
	"PROXBOX_NETBOX_BATCH_SIZE":              "objetos por escrita em lote no NetBox (backups: PROXBOX_BACKUP_BATCH_SIZE)",
	"PROXBOX_PROXMOX_FETCH_CONCURRENCY":      "requisições ao Proxmox em andamento por endpoint",
	"PROXBOX_NETBOX_TIMEOUT":                 "tempo limite de uma requisição ao NetBox, em segundos",
	"PROXBOX_BACKUP_BATCH_SIZE":              "backups por requisição de escrita no NetBox",
	"PROXBOX_BACKUP_BATCH_DELAY_MS":          "pausa entre duas requisições de escrita de backups, em milissegundos (0: nenhuma)",
	"PROXBOX_NETBOX_GET_CACHE_TTL":           "segundos em que uma resposta GET do NetBox é reutilizada (0 desativa o cache)",
	"PROXBOX_NETBOX_GET_CACHE_MAX_ENTRIES":   "máximo de entradas do cache (despejo LRU)",
	"PROXBOX_NETBOX_GET_CACHE_MAX_BYTES":     "máximo de bytes de respostas em cache (despejo LRU)",
	"PROXBOX_ORPHANS":                        "um guest que sumiu do Proxmox: keep (manter), mark (status offline, tag proxbox-orphan) ou delete (após PROXBOX_ORPHAN_GRACE)",
	"PROXBOX_ORPHAN_GRACE":                   "quanto tempo um órfão marcado espera antes que delete o remova (7d, 36h; 0: imediatamente)",
	"PROXBOX_DEFAULT_SITE":                   "site do NetBox para os nós do Proxmox (vazio: um site por cluster)",
	"PROXBOX_TEMPLATES":                      "templates de guests: sync (como VMs offline) ou skip",
	"PROXBOX_PRIMARY_IP_PREFERENCE":          "IP primário de uma VM: ipv4, ipv6, both ou none",
	"PROXBOX_IP_VRF":                         "onde ficam os endereços IP sincronizados: none (a tabela global do NetBox), endpoint ou cluster (uma VRF por endpoint, com o nome do seu rótulo ou do seu cluster, criada e mantida pelo proxbox, para que faixas reutilizadas entre endpoints convivam)",
	"PROXBOX_USE_GUEST_AGENT_INTERFACE_NAME": "nomear as interfaces das VMs como o guest agent as informa (false: netN)",
	"PROXBOX_IGNORE_IPV6_LINK_LOCAL":         "deixar de fora os endereços fe80::/10",
}

// Setting is one row of the configuration reference.
type Setting struct {
	Env, Flag, Default, Help string
}

// Reference lists every setting of the options table in lang ("en" or
// "pt-BR"). It fails when a row has no help text in that language.
func Reference(lang string) ([]Setting, error) {
	var out []Setting
	var missing []string
	seen := map[string]bool{}
	for _, o := range options {
		if seen[o.env] {
			continue
		}
		seen[o.env] = true
		help := o.help
		if help == "" {
			help = helpEN[o.env]
		}
		if lang == "pt-BR" {
			help = helpPTBR[o.env]
		}
		if help == "" {
			missing = append(missing, o.env)
		}
		out = append(out, Setting{Env: o.env, Flag: o.flag, Default: o.def, Help: help})
	}
	if len(missing) > 0 {
		where := "the option's help (or helpEN in config/reference.go)"
		if lang == "pt-BR" {
			where = "helpPTBR in config/reference.go"
		}
		return nil, fmt.Errorf("no %s help text for %s: add it to %s", lang, strings.Join(missing, ", "), where)
	}
	return out, nil
}

// referenceText holds the prose of the reference page in each language.
var referenceText = map[string]struct {
	title, intro, cols, empty string
}{
	"en": {
		title: "# Configuration reference",
		intro: `Every setting of proxbox, generated from the options table in ` + "`config/`" + ` (do not edit
this file: run ` + "`go generate ./docs/`" + `; a test fails when it differs from the table).

Flags win over environment variables, which win over the defaults. The variable names are kept
from the Python service proxbox-api, so existing deployments move over (see ` + "[migrate.md](migrate.md)" + `
for the ones that changed meaning or are ignored). An invalid value stops start-up with one line
naming the variable, the value and what is allowed. Booleans accept true and false (the options
with a flag also 1/0, yes/no and on/off). With systemd the variables go in ` + "`/etc/proxbox/proxbox.env`" + ` (see [install.md](install.md)).`,
		cols:  "| variable | flag | default | meaning |",
		empty: "(empty)",
	},
	"pt-BR": {
		title: "# Referência de configuração",
		intro: `Todas as configurações do proxbox, geradas a partir da tabela de opções em ` + "`config/`" + ` (não
edite este arquivo: rode ` + "`go generate ./docs/`" + `; um teste falha quando ele difere da tabela).

Flags prevalecem sobre variáveis de ambiente, que prevalecem sobre os padrões. Os nomes das
variáveis são os do serviço Python proxbox-api, para que instalações existentes migrem (veja
` + "[migrate.md](migrate.md)" + ` para as que mudaram de sentido ou são ignoradas). Um valor inválido
interrompe a inicialização com uma linha que nomeia a variável, o valor e o que é permitido.
Booleanos aceitam true e false (as opções com flag também 1/0, yes/no e on/off). Com systemd, as
variáveis ficam em ` + "`/etc/proxbox/proxbox.env`" + ` (veja [install.md](install.md)).`,
		cols:  "| variável | flag | padrão | significado |",
		empty: "(vazio)",
	},
}

// ReferenceMarkdown renders the configuration reference page in lang ("en"
// for docs/configuration.md, "pt-BR" for docs/pt-BR/configuration.md).
func ReferenceMarkdown(lang string) (string, error) {
	txt, ok := referenceText[lang]
	if !ok {
		return "", fmt.Errorf("no configuration reference in %q", lang)
	}
	rows, err := Reference(lang)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("<!-- Generated from config/ by `go generate ./docs/`. Do not edit. -->\n\n")
	b.WriteString(txt.title + "\n\n" + txt.intro + "\n\n" + txt.cols + "\n|---|---|---|---|\n")
	for _, r := range rows {
		flag, def := "", txt.empty
		if r.Flag != "" {
			flag = "`--" + r.Flag + "`"
		}
		if r.Default != "" {
			def = "`" + r.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Env, flag, def, strings.ReplaceAll(r.Help, "|", `\|`))
	}
	return b.String(), nil
}
