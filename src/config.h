/*
 * clerksync — config: the KEY = value file and its environment
 * overrides (SPEC section 4). The only place that reads the environment.
 * SPDX-License-Identifier: ISC
 */
#ifndef CLERKSYNC_CONFIG_H
#define CLERKSYNC_CONFIG_H

#include <stddef.h>

#include "log.h"
#include "sig.h"

#define CONFIG_FILE_NAME	"clerksync.conf"
#define CONFIG_FILE_PREFIX	"clerksync-"	/* ~/clerksync-FOLDER.conf */
#define CONFIG_FILE_SUFFIX	".conf"
#define CONFIG_FILE_MAX		65536	/* bytes of a config file */
#define CONFIG_PLACES_MAX	4	/* places a config file is looked for */
#define CONFIG_KEY_MAX		32	/* characters of a key name */
#define CONFIG_PREFIX_MAX	32	/* characters of table_prefix */
#define CONFIG_PORT_MAX		65535
#define CONFIG_TOLERANCE_MAX	86400	/* seconds: a day */
#define CONFIG_MAX_BODY_DEFAULT	(1024 * 1024)
#define CONFIG_MAX_BODY_LIMIT	(64 * 1024 * 1024)
#define CONFIG_RETENTION_DEFAULT 30	/* days */
#define CONFIG_RETENTION_MAX	36500	/* days: a century */
#define CONFIG_HOSTS_MAX	8	/* database hosts, tried in order */
#define CONFIG_API_URL_DEFAULT	"https://api.clerk.com"
#define CONFIG_RATE_DEFAULT	50	/* Backend API requests ... */
#define CONFIG_RATE_WINDOW_DEFAULT 10	/* ... per this many seconds */
#define CONFIG_RATE_MAX		1000	/* requests in one window */
#define CONFIG_RATE_WINDOW_MAX	3600	/* seconds of a window */

enum config_key {
	CONFIG_SIGNING_SECRET,
	CONFIG_DB_HOST,
	CONFIG_DB_PORT,
	CONFIG_DB_SOCKET,
	CONFIG_DB_USER,
	CONFIG_DB_PASSWORD,
	CONFIG_DB_NAME,
	CONFIG_DATABASE_URL,
	CONFIG_TABLE_PREFIX,
	CONFIG_TIMESTAMP_TOLERANCE,
	CONFIG_MAX_BODY,
	CONFIG_LOG_FILE,
	CONFIG_LOG_LEVEL,
	CONFIG_SYNC_PRIVATE_METADATA,
	CONFIG_KEEP_DELETED_DATA,
	CONFIG_EVENT_RETENTION_DAYS,
	CONFIG_EVENTS,
	CONFIG_CLERK_SECRET_KEY,
	CONFIG_CLERK_API_URL,
	CONFIG_CLERK_CA_FILE,
	CONFIG_CLERK_RATE_LIMIT,
	CONFIG_DB_TLS,
	CONFIG_DB_TLS_CA,
	CONFIG_PULL_SECRET,
	CONFIG__MAX
};

/* db_tls: what the connection to the database asks of TLS. */
enum config_tls {
	CONFIG_TLS_OFF,		/* plain (a local socket needs no more) */
	CONFIG_TLS_ON,		/* encrypted, the certificate not checked */
	CONFIG_TLS_VERIFY,	/* encrypted, chain and host name checked */
	CONFIG_TLS__MAX
};

extern const char *const config_tls_names[CONFIG_TLS__MAX];

/* Event families, the words of the events setting. */
#define CONFIG_EVENTS_USERS		0x1
#define CONFIG_EVENTS_ORGANIZATIONS	0x2
#define CONFIG_EVENTS_MEMBERSHIPS	0x4
#define CONFIG_EVENTS_ALL		0x7

struct config {
	char		*raw[CONFIG__MAX];	/* as read; NULL: unset */
	char		 path[4096];		/* file read, or "" */
	char		 looked[1024];		/* no file: the places looked */
	char		 who[128];		/* "user NAME, uid N" */

	struct sig_key	 keys[SIG_KEYS_MAX];
	size_t		 nkeys;
	struct sig_key	 pull_keys[SIG_KEYS_MAX];	/* pull_secret */
	size_t		 npull_keys;		/* 0: no pull accepted */
	char		*db_host;		/* NULL: library default */
	char		*db_hosts[CONFIG_HOSTS_MAX];	/* db_host's words */
	unsigned int	 db_ports[CONFIG_HOSTS_MAX];	/* 0: db_port */
	size_t		 ndb_hosts;		/* 0: library default */
	char		*db_socket;
	char		*db_user;
	char		*db_password;
	char		*db_name;
	unsigned int	 db_port;		/* 0: library default */
	enum config_tls	 db_tls;
	const char	*db_tls_ca;		/* NULL: the system's CAs */
	char		 table_prefix[CONFIG_PREFIX_MAX + 1];
	long long	 tolerance;
	size_t		 max_body;
	const char	*log_file;		/* NULL: stderr */
	enum log_level	 log_level;
	int		 sync_private_metadata;
	int		 keep_deleted_data;
	int		 retention_days;
	unsigned int	 events;		/* CONFIG_EVENTS_* applied */

	/* backfill and reconcile: Clerk's Backend API. */
	const char	*clerk_secret_key;	/* NULL: not set */
	const char	*clerk_api_url;
	const char	*clerk_ca_file;		/* NULL: the system's CAs */
	int		 rate_requests;		/* at most this many ... */
	int		 rate_seconds;		/* ... in any such window */
};

/* An environment lookup, so that tests can supply their own. */
typedef const char *(*config_env_fn)(const char *);

/*
 * Find and read the file (CLERKSYNC_CONFIG; else, in the home directory
 * of the effective user, clerksync-FOLDER.conf where FOLDER is the
 * name of exedir, then clerksync.conf; else clerksync.conf in exedir),
 * apply the environment and check every value. Fills cf->path with the
 * file read, or cf->looked with every place looked and as which user.
 * Returns 0, or -1 with one line naming the key (never a value) in err;
 * out of memory is -1 too. The caller zeroes cf first and calls
 * config_free in both cases.
 */
int	config_load(struct config *cf, const char *exedir, config_env_fn env,
	    char *err, size_t errsz);

/*
 * Set raw values from the text of a file; name is used in messages,
 * which hold the name, a line number and a key, never a value.
 */
int	config_parse(struct config *cf, const char *buf, size_t len,
	    const char *name, char *err, size_t errsz);

/* Apply environment overrides, then check and convert every value. */
int	config_finish(struct config *cf, config_env_fn env, char *err,
	    size_t errsz);

/* Wipe secrets and free; safe on a zeroed or half-built config. */
void	config_free(struct config *cf);

#endif
