using MailSync.Core.Config;

namespace MailSync.Tests.Unit.Config;

public sealed class ConfigValidationTests
{
    [Theory]
    // accounts
    [InlineData("""{ "accounts.old": { "protocol": null } }""", "accounts.old.protocol", "is required")]
    [InlineData("""{ "accounts.old": { "protocol": "smtp" } }""", "accounts.old.protocol", "unknown value \"smtp\"; use one of \"imap\", \"pop3\"")]
    [InlineData("""{ "accounts.old": { "protocol": 1 } }""", "accounts.old.protocol", "must be one of")]
    [InlineData("""{ "accounts.old": { "host": null } }""", "accounts.old.host", "is required")]
    [InlineData("""{ "accounts.old": { "host": " " } }""", "accounts.old.host", "must not be empty")]
    [InlineData("""{ "accounts.old": { "host": "imaps://mail.example.org", "security": "ssl" } }""", "accounts.old.host", "is not a host name")]
    [InlineData("""{ "accounts.old": { "port": 0 } }""", "accounts.old.port", "must be between 1 and 65535")]
    [InlineData("""{ "accounts.old": { "port": 65536 } }""", "accounts.old.port", "must be between 1 and 65535")]
    [InlineData("""{ "accounts.old": { "port": "993" } }""", "accounts.old.port", "must be a whole number")]
    [InlineData("""{ "accounts.old": { "port": 99.5 } }""", "accounts.old.port", "must be a whole number")]
    [InlineData("""{ "accounts.old": { "security": "tls" } }""", "accounts.old.security", "unknown value \"tls\"; use one of \"ssl\", \"starttls\", \"none\"")]
    [InlineData("""{ "accounts.old": { "user": null } }""", "accounts.old.user", "is required")]
    [InlineData("""{ "accounts.old": { "user": "" } }""", "accounts.old.user", "must not be empty")]
    [InlineData("""{ "accounts.old": { "password": null } }""", "accounts.old.password", "is required")]
    [InlineData("""{ "accounts.old": { "password": "hunter2" } }""", "accounts.old.password", "a literal password is not allowed; use \"env:NAME\" or \"file:PATH\"")]
    [InlineData("""{ "accounts.old": { "password": 1234 } }""", "accounts.old.password", "a literal password is not allowed")]
    [InlineData("""{ "accounts.old": { "password": "env:" } }""", "accounts.old.password", "\"env:\" must be followed by an environment variable name")]
    [InlineData("""{ "accounts.old": { "password": "file:" } }""", "accounts.old.password", "\"file:\" must be followed by a file path")]
    [InlineData("""{ "accounts.old": { "host": "mail.example.org" } }""", "accounts.old.security", "set \"allowInsecure\": true")]
    [InlineData("""{ "accounts.old": { "host": "10.0.0.1" } }""", "accounts.old.security", "unencrypted")]
    [InlineData("""{ "accounts.old": { "allowInsecure": "yes" } }""", "accounts.old.allowInsecure", "must be true or false")]
    [InlineData("""{ "accounts.old": { "password": null, "oauth2Token": null } }""", "accounts.old.password", "is required (or \"oauth2Token\" for an OAuth2 login)")]
    [InlineData("""{ "accounts.old": { "oauth2Token": "ya29.a0AfB_literal" } }""", "accounts.old.oauth2Token", "a literal token is not allowed; use \"env:NAME\" or \"file:PATH\"")]
    [InlineData("""{ "accounts.old": { "oauth2Token": 42 } }""", "accounts.old.oauth2Token", "a literal token is not allowed")]
    [InlineData("""{ "accounts.old": { "oauth2Token": "env:" } }""", "accounts.old.oauth2Token", "\"env:\" must be followed by an environment variable name, e.g. \"env:OAUTH2_TOKEN\"")]
    [InlineData("""{ "accounts.old": { "oauth2Token": "FILE: " } }""", "accounts.old.oauth2Token", "\"file:\" must be followed by a file path")]
    [InlineData("""{ "accounts.old": { "password": null, "oauth2Token": "nope" } }""", "accounts.old.oauth2Token", "a literal token is not allowed")]
    [InlineData("""{ "accounts.old": { "authMechanism": "X OAUTH" } }""", "accounts.old.authMechanism", "is not a SASL mechanism name")]
    [InlineData("""{ "accounts.old": { "authMechanism": "XOAUTH2" } }""", "accounts.old.authMechanism", "\"XOAUTH2\" requires \"oauth2Token\"")]
    [InlineData("""{ "accounts.old": { "authMechanism": "xoauth2" } }""", "accounts.old.authMechanism", "\"XOAUTH2\" requires \"oauth2Token\"")]
    [InlineData("""{ "accounts.old": { "authMechanism": "PLAIN", "oauth2Token": "env:TOKEN" } }""", "accounts.old.oauth2Token", "is sent only with XOAUTH2, not with \"authMechanism\": \"PLAIN\"")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3", "authMechanism": "user", "oauth2Token": "env:TOKEN" } }""", "accounts.old.oauth2Token", "is sent only with XOAUTH2, not with \"authMechanism\": \"USER\"")]
    [InlineData("""{ "accounts.old": { "authMechanism": "USER" } }""", "accounts.old.authMechanism", "USER and APOP are POP3 login methods")]
    [InlineData("""{ "accounts.old": { "authMechanism": "apop" } }""", "accounts.old.authMechanism", "\"APOP\" cannot be used with imap: USER and APOP are POP3 login methods")]
    [InlineData("""{ "accounts.old": { "authMechanism": "user", "oauth2Token": "env:TOKEN" } }""", "accounts.old.authMechanism", "USER and APOP are POP3 login methods")]
    [InlineData("""{ "accounts.old": { "trustAnyCertificate": true, "certificateFingerprint": "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789" } }""", "accounts.old.trustAnyCertificate", "cannot be combined with \"certificateFingerprint\"")]
    [InlineData("""{ "accounts.old": { "certificateFingerprint": "AB:CD:EF" } }""", "accounts.old.certificateFingerprint", "64 hex digits")]
    [InlineData("""{ "accounts.old": { "certificateFingerprint": "XYCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789" } }""", "accounts.old.certificateFingerprint", "64 hex digits")]
    [InlineData("""{ "accounts.old": { "maxConnections": 0 } }""", "accounts.old.maxConnections", "must be between 1 and 32")]
    [InlineData("""{ "accounts.old": { "maxConnections": 33 } }""", "accounts.old.maxConnections", "must be between 1 and 32")]
    [InlineData("""{ "accounts.old": { "timeoutSeconds": 4 } }""", "accounts.old.timeoutSeconds", "must be between 5 and 3600")]
    [InlineData("""{ "accounts.old": { "timeoutSeconds": 3601 } }""", "accounts.old.timeoutSeconds", "must be between 5 and 3600")]
    [InlineData("""{ "accounts.old": { "maxResponseLineBytes": 1023 } }""", "accounts.old.maxResponseLineBytes", "must be between 1024 and 1073741824")]
    [InlineData("""{ "accounts.old": { "maxLiteralBytes": 0 } }""", "accounts.old.maxLiteralBytes", "must be between 1024 and 1073741824")]
    [InlineData("""{ "accounts.old": { "maxFolders": 0 } }""", "accounts.old.maxFolders", "must be between 1 and 10000000")]
    [InlineData("""{ "accounts.old": { "maxMessagesPerFolder": 0 } }""", "accounts.old.maxMessagesPerFolder", "must be between 1 and 2147483646")]
    [InlineData("""{ "accounts.old": { "retryAttempts": -1 } }""", "accounts.old.retryAttempts", "must be between 0 and 20")]
    [InlineData("""{ "accounts.old": { "retryAttempts": 21 } }""", "accounts.old.retryAttempts", "must be between 0 and 20")]
    [InlineData("""{ "accounts.old": { "retryAttempts": "5" } }""", "accounts.old.retryAttempts", "must be a whole number")]
    [InlineData("""{ "accounts.old": { "retryDelaySeconds": 0 } }""", "accounts.old.retryDelaySeconds", "must be between 1 and 300 (waits are capped at 300 s)")]
    [InlineData("""{ "accounts.old": { "retryDelaySeconds": 301 } }""", "accounts.old.retryDelaySeconds", "must be between 1 and 300 (waits are capped at 300 s)")]
    [InlineData("""{ "accounts.old": { "retryDelaySeconds": 1.5 } }""", "accounts.old.retryDelaySeconds", "must be a whole number")]
    [InlineData("""{ "accounts.old": { "hots": "x" } }""", "accounts.old.hots", "unknown property \"hots\"; did you mean \"host\"?")]
    [InlineData("""{ "accounts.old": { "colour": "x" } }""", "accounts.old.colour", "unknown property \"colour\"; known properties are protocol, host")]
    [InlineData("""{ "accounts": { "old": 5 } }""", "accounts.old", "must be an object")]
    // jobs
    [InlineData("""{ "jobs[0]": { "name": null } }""", "jobs[0].name", "is required")]
    [InlineData("""{ "jobs[0]": { "name": "a/b" } }""", "jobs[0].name", "may contain only letters, digits, \".\", \"_\" and \"-\"")]
    [InlineData("""{ "jobs[0]": { "name": "al ice" } }""", "jobs[0].name", "may contain only")]
    [InlineData("""{ "jobs[0]": { "name": ".." } }""", "jobs[0].name", "may contain only")]
    [InlineData("""{ "jobs[0]": { "mode": null } }""", "jobs[0].mode", "is required")]
    [InlineData("""{ "jobs[0]": { "mode": "mirror" } }""", "jobs[0].mode", "unknown value \"mirror\"; use one of \"migrate\", \"sync\"")]
    [InlineData("""{ "jobs[0]": { "deletions": "trash" } }""", "jobs[0].deletions", "only for jobs with \"mode\": \"sync\"")]
    [InlineData("""{ "jobs[0]": { "mode": "sync", "deletions": "wipe" } }""", "jobs[0].deletions", "unknown value \"wipe\"; use one of \"propagate\", \"trash\", \"keep\"")]
    [InlineData("""{ "jobs[0]": { "mode": "sync", "deletionGuard": { "percent": 101 } } }""", "jobs[0].deletionGuard.percent", "must be between 0 and 100")]
    [InlineData("""{ "jobs[0]": { "mode": "sync", "deletionGuard": { "minMessages": -1 } } }""", "jobs[0].deletionGuard.minMessages", "must be 0 or more")]
    [InlineData("""{ "jobs[0]": { "mode": "sync", "deletionGuard": { "minimum": 5 } } }""", "jobs[0].deletionGuard.minimum", "unknown property")]
    [InlineData("""{ "jobs[0]": { "source": null } }""", "jobs[0].source", "is required")]
    [InlineData("""{ "jobs[0]": { "source": "nope" } }""", "jobs[0].source", "unknown account \"nope\"")]
    [InlineData("""{ "jobs[0]": { "target": null } }""", "jobs[0].target", "is required")]
    [InlineData("""{ "jobs[0]": { "target": "b" } }""", "jobs[0].target", "unknown account \"b\"")]
    [InlineData("""{ "jobs[0]": { "target": "OLD" } }""", "jobs[0].target", "source and target are the same account \"OLD\"")]
    [InlineData("""{ "accounts.new": { "protocol": "pop3" } }""", "jobs[0].target", "account \"new\" is pop3; the target must be an imap account")]
    [InlineData("""{ "jobs[0]": { "include": ["INBOX", ""] } }""", "jobs[0].include[1]", "must not be empty")]
    [InlineData("""{ "jobs[0]": { "include": "INBOX" } }""", "jobs[0].include", "must be an array of strings")]
    [InlineData("""{ "jobs[0]": { "exclude": [3] } }""", "jobs[0].exclude[0]", "must be a string")]
    [InlineData("""{ "jobs[0]": { "renames": { "": "New" } } }""", "jobs[0].renames[\"\"]", "the folder to rename must not be empty")]
    [InlineData("""{ "jobs[0]": { "renames": { "Old/Path": "" } } }""", "jobs[0].renames[\"Old/Path\"]", "the new folder name must not be empty")]
    [InlineData("""{ "jobs[0]": { "renames": { "Old": 1 } } }""", "jobs[0].renames.Old", "the new folder name must be a string")]
    [InlineData("""{ "jobs[0]": { "renames": ["Old", "New"] } }""", "jobs[0].renames", "must be an object")]
    [InlineData("""{ "jobs[0]": { "targetPrefix": "" } }""", "jobs[0].targetPrefix", "must not be empty")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFolder": 7 } }""", "jobs[0].targetFolder", "must be a string")]
    [InlineData("""{ "jobs[0]": { "targetFolder": "FromPop" } }""", "jobs[0].targetFolder", "only for jobs with a pop3 source; account \"old\" is imap")]
    [InlineData("""{ "jobs[0]": { "deleteFromSource": false } }""", "jobs[0].deleteFromSource", "only for jobs with a pop3 source")]
    [InlineData("""{ "jobs[0]": { "deleteOlderThanDays": 30 } }""", "jobs[0].deleteOlderThanDays", "only for jobs with a pop3 source")]
    [InlineData("""{ "jobs[0]": { "targetFlags": [] } }""", "jobs[0].targetFlags", "only for jobs with a pop3 source")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "include": ["INBOX"] } }""", "jobs[0].include", "not for a pop3 source (account \"old\"): a POP3 source has a single mailbox; use targetFolder")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "exclude": [] } }""", "jobs[0].exclude", "a POP3 source has a single mailbox; use targetFolder")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "renames": { "INBOX": "Old" } } }""", "jobs[0].renames", "a POP3 source has a single mailbox; use targetFolder")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetPrefix": "Migrated" } }""", "jobs[0].targetPrefix", "a POP3 source has a single mailbox; use targetFolder")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteFromSource": "yes" } }""", "jobs[0].deleteFromSource", "must be true or false")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteFromSource": "yes", "deleteOlderThanDays": 30 } }""", "jobs[0].deleteFromSource", "must be true or false")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteFromSource": true, "deleteOlderThanDays": 0 } }""", "jobs[0].deleteOlderThanDays", "must be between 1 and 36500")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteFromSource": true, "deleteOlderThanDays": 36501 } }""", "jobs[0].deleteOlderThanDays", "must be between 1 and 36500")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteFromSource": true, "deleteOlderThanDays": "30" } }""", "jobs[0].deleteOlderThanDays", "must be a whole number")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteOlderThanDays": 30 } }""", "jobs[0].deleteOlderThanDays", "only applies with \"deleteFromSource\": true")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "deleteFromSource": false, "deleteOlderThanDays": 30 } }""", "jobs[0].deleteOlderThanDays", "only applies with \"deleteFromSource\": true")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": "\\Seen" } }""", "jobs[0].targetFlags", "must be an array of strings")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": [1] } }""", "jobs[0].targetFlags[0]", "must be a string")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\Seen", ""] } }""", "jobs[0].targetFlags[1]", "must not be empty")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\Deleted"] } }""", "jobs[0].targetFlags[0]", "\"\\Deleted\" cannot be set: it would mark every copy for removal at the target's next expunge")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\deleted"] } }""", "jobs[0].targetFlags[0]", "it would mark every copy for removal")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\Recent"] } }""", "jobs[0].targetFlags[0]", "\"\\Recent\" cannot be set: only the server sets it")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\Important"] } }""", "jobs[0].targetFlags[0]", "\"\\Important\" is not a system flag a copy can get; use \"\\Seen\", \"\\Answered\", \"\\Flagged\" or \"\\Draft\"")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\"] } }""", "jobs[0].targetFlags[0]", "is not a system flag")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["\\Seen", "\\SEEN"] } }""", "jobs[0].targetFlags[1]", "\"\\Seen\" is given more than once (also at jobs[0].targetFlags[0])")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["$Work", "Junk", "$work"] } }""", "jobs[0].targetFlags[2]", "\"$work\" is given more than once (also at jobs[0].targetFlags[0])")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["my flag"] } }""", "jobs[0].targetFlags[0]", "\"my flag\" is not a valid IMAP keyword: a space is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a(b"] } }""", "jobs[0].targetFlags[0]", "\"(\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a)"] } }""", "jobs[0].targetFlags[0]", "\")\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a{1}"] } }""", "jobs[0].targetFlags[0]", "\"{\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["50%"] } }""", "jobs[0].targetFlags[0]", "\"%\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a*"] } }""", "jobs[0].targetFlags[0]", "\"*\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["say\"hi"] } }""", "jobs[0].targetFlags[0]", "\"\"\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a\\b"] } }""", "jobs[0].targetFlags[0]", "\"\\\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["[x]"] } }""", "jobs[0].targetFlags[0]", "\"]\" is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["café"] } }""", "jobs[0].targetFlags[0]", "U+00E9 is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a\u0007"] } }""", "jobs[0].targetFlags[0]", "U+0007 is not allowed")]
    [InlineData("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFlags": ["a\u007F"] } }""", "jobs[0].targetFlags[0]", "U+007F is not allowed")]
    [InlineData("""{ "jobs[0]": { "targt": "new" } }""", "jobs[0].targt", "unknown property \"targt\"; did you mean \"target\"?")]
    // root
    [InlineData("""{ "": { "jobs": [] } }""", "jobs", "must contain at least one job")]
    [InlineData("""{ "": { "jobs": null } }""", "jobs", "is required")]
    [InlineData("""{ "": { "jobs": {} } }""", "jobs", "must be an array")]
    [InlineData("""{ "": { "jobs": [1] } }""", "jobs[0]", "must be an object")]
    [InlineData("""{ "": { "job": [] } }""", "job", "unknown property \"job\"; did you mean \"jobs\"?")]
    public void Each_rule_reports_one_error_at_its_location(string patch, string location, string message)
    {
        var result = ConfigJson.ParsePatched(patch);

        Assert.False(result.IsValid);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal(location, error.Location);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_accounts_is_reported_with_the_job_references_it_breaks()
    {
        var result = ConfigJson.ParsePatched("""{ "": { "accounts": null } }""");

        Assert.Equal(
            ["accounts: is required", "jobs[0].source: unknown account \"old\"", "jobs[0].target: unknown account \"new\""],
            result.Errors.Select(e => e.ToString()));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.4.5.6")]
    [InlineData("localhost")]
    [InlineData("LocalHost")]
    [InlineData("::1")]
    [InlineData("[::1]")]
    public void Security_none_is_accepted_on_loopback_hosts(string host)
    {
        var result = ConfigJson.ParsePatched($$"""{ "accounts.old": { "host": "{{host}}" } }""");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Security_none_elsewhere_is_accepted_with_allowInsecure()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "host": "mail.example.org", "allowInsecure": true } }""");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Fact]
    public void A_pop3_source_is_fine()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "protocol": "pop3" }, "jobs[0]": { "targetFolder": "FromPop" } }""");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(Protocol.Pop3, result.Config!.Accounts["old"].Protocol);
    }

    [Fact]
    public void A_literal_password_is_never_echoed()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "password": "S3cr3t-Hunter2" } }""");

        Assert.DoesNotContain(result.Errors, e => e.ToString().Contains("S3cr3t", StringComparison.Ordinal));
    }

    [Fact]
    public void A_literal_token_is_never_echoed()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "oauth2Token": "ya29.Very-Secret-Token" } }""");

        var error = Assert.Single(result.Errors);
        Assert.DoesNotContain("Very-Secret", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Login_problems_of_several_accounts_are_all_reported()
    {
        var result = ConfigJson.ParsePatched("""
            {
              "accounts.old": { "password": null, "authMechanism": "XOAUTH2" },
              "accounts.new": { "authMechanism": "APOP", "oauth2Token": "token-literal" }
            }
            """);

        Assert.Equal(
            [
                "accounts.old.password: is required (or \"oauth2Token\" for an OAuth2 login)",
                "accounts.old.authMechanism: \"XOAUTH2\" requires \"oauth2Token\" (\"env:NAME\" or \"file:PATH\" of the access token)",
                "accounts.new.oauth2Token: a literal token is not allowed; use \"env:NAME\" or \"file:PATH\"",
                "accounts.new.authMechanism: \"APOP\" cannot be used with imap: USER and APOP are POP3 login methods; use a SASL mechanism such as \"PLAIN\" or \"LOGIN\", or leave it out",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Both_retry_settings_are_reported_together()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "retryAttempts": 100, "retryDelaySeconds": 0 } }""");

        Assert.Equal(
            ["accounts.old.retryAttempts: must be between 0 and 20", "accounts.old.retryDelaySeconds: must be between 1 and 300 (waits are capped at 300 s)"],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Every_bad_target_flag_is_reported_at_its_own_index()
    {
        var result = ConfigJson.ParsePatched("""
            { "accounts.old": { "protocol": "pop3" },
              "jobs[0]": { "targetFlags": ["\\Seen", "\\Deleted", 3, "\\seen", "bad flag", "$Ok"] } }
            """);

        Assert.Null(result.Config);
        Assert.Equal(
            [
                "jobs[0].targetFlags[1]: \"\\Deleted\" cannot be set: it would mark every copy for removal at the target's next expunge",
                "jobs[0].targetFlags[2]: must be a string",
                "jobs[0].targetFlags[3]: \"\\Seen\" is given more than once (also at jobs[0].targetFlags[0])",
                "jobs[0].targetFlags[4]: \"bad flag\" is not a valid IMAP keyword: a space is not allowed (a keyword is printable ASCII without spaces or any of ( ) { % * \" \\ ])",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void A_sync_job_needs_two_imap_accounts_and_reads_its_deletion_settings()
    {
        var refused = ConfigJson.ParsePatched("""
            {
              "accounts": { "pop": { "protocol": "pop3", "host": "localhost", "user": "p", "password": "env:POP" } },
              "": { "jobs": [ { "name": "s", "mode": "sync", "source": "pop", "target": "new" } ] }
            }
            """);
        Assert.Equal(["jobs[0].mode: \"sync\" needs two imap accounts; account \"pop\" is pop3 (a POP3 mailbox can only be migrated)"], refused.Errors.Select(e => e.ToString()));

        var sync = ConfigJson.ParsePatched("""
            { "": { "jobs": [ { "name": "s", "mode": "sync", "source": "old", "target": "new", "deletions": "trash", "deletionGuard": { "minMessages": 5, "percent": 20 } } ] } }
            """);
        Assert.True(sync.IsValid, string.Join("\n", sync.Errors));
        var job = Assert.Single(sync.Config!.Jobs);
        Assert.Equal((JobMode.Sync, MailSync.Core.Sync.TwoWay.DeletionMode.Trash, 5, 20), (job.Mode, job.Deletions, job.DeletionGuard.MinMessages, job.DeletionGuard.Percent));

        var defaults = Assert.Single(ConfigJson.ParsePatched("""{ "": { "jobs": [ { "name": "s", "mode": "sync", "source": "old", "target": "new" } ] } }""").Config!.Jobs);
        Assert.Equal((MailSync.Core.Sync.TwoWay.DeletionMode.Propagate, 50, 10), (defaults.Deletions, defaults.DeletionGuard.MinMessages, defaults.DeletionGuard.Percent));
    }

    [Fact]
    public void Fields_of_the_other_source_kind_are_all_reported_in_each_job()
    {
        var result = ConfigJson.ParsePatched("""
            {
              "accounts": { "pop": { "protocol": "pop3", "host": "localhost", "user": "p", "password": "env:POP" } },
              "": { "jobs": [
                { "name": "a", "mode": "migrate", "source": "old", "target": "new",
                  "targetFolder": "X", "deleteFromSource": true, "deleteOlderThanDays": 30, "targetFlags": ["\\Seen"] },
                { "name": "b", "mode": "migrate", "source": "pop", "target": "new",
                  "include": ["*"], "exclude": ["Spam"], "renames": {}, "targetPrefix": "P", "targetFlags": ["\\Recent"] } ] }
            }
            """);

        Assert.Equal(
            [
                "jobs[0].targetFolder: only for jobs with a pop3 source; account \"old\" is imap",
                "jobs[0].deleteFromSource: only for jobs with a pop3 source; account \"old\" is imap",
                "jobs[0].deleteOlderThanDays: only for jobs with a pop3 source; account \"old\" is imap",
                "jobs[0].targetFlags: only for jobs with a pop3 source; account \"old\" is imap",
                "jobs[1].targetFlags[0]: \"\\Recent\" cannot be set: only the server sets it, on messages new to a mailbox",
                "jobs[1].include: not for a pop3 source (account \"pop\"): a POP3 source has a single mailbox; use targetFolder",
                "jobs[1].exclude: not for a pop3 source (account \"pop\"): a POP3 source has a single mailbox; use targetFolder",
                "jobs[1].renames: not for a pop3 source (account \"pop\"): a POP3 source has a single mailbox; use targetFolder",
                "jobs[1].targetPrefix: not for a pop3 source (account \"pop\"): a POP3 source has a single mailbox; use targetFolder",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Source_kind_rules_wait_until_the_source_protocol_is_known()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "protocol": "smtp" }, "jobs[0]": { "targetFolder": "X", "targetPrefix": "P" } }""");

        var error = Assert.Single(result.Errors);
        Assert.Equal("accounts.old.protocol", error.Location);
    }

    [Fact]
    public void Duplicate_job_names_are_reported_case_insensitively()
    {
        var result = ConfigJson.ParsePatched("""
            { "": { "jobs": [
                { "name": "alice", "mode": "migrate", "source": "old", "target": "new" },
                { "name": "ALICE", "mode": "migrate", "source": "old", "target": "new" } ] } }
            """);

        var error = Assert.Single(result.Errors);
        Assert.Equal("jobs[1].name", error.Location);
        Assert.Equal("duplicate job name \"ALICE\" (also at jobs[0].name)", error.Message);
    }

    [Fact]
    public void Duplicate_properties_and_accounts_are_reported()
    {
        var json = """
            {
              "accounts": {
                "old": { "protocol": "imap", "host": "localhost", "Host": "127.0.0.1", "security": "none", "user": "u", "password": "env:A" },
                "new": { "protocol": "imap", "host": "localhost", "security": "none", "user": "u", "password": "env:B" },
                "NEW": { "protocol": "imap", "host": "localhost", "security": "none", "user": "u", "password": "env:C" }
              },
              "jobs": [ { "name": "j", "mode": "migrate", "source": "old", "target": "new" } ]
            }
            """;

        var result = ConfigLoader.Parse(json);

        Assert.Equal(
            [
                "accounts.old.host: is given more than once",
                "accounts.NEW: account \"NEW\" is defined more than once (names are case-insensitive)",
            ],
            result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Several_problems_are_all_reported_in_one_pass()
    {
        var json = """
            {
              "accounts": {
                "old": { "protocol": "imap", "host": "mail.example.org", "port": 0, "security": "none", "user": "src", "password": "hunter2" },
                "new": { "protocol": "pop3", "host": "127.0.0.1", "user": "dst", "password": "env:NEW", "maxConnections": 100 }
              },
              "jobs": [
                { "name": "alice", "mode": "migrate", "source": "old", "targt": "new" },
                { "name": "bob", "mode": "copy", "source": "old", "target": "new", "include": [""] },
                { "name": "Alice", "mode": "migrate", "source": "gone", "target": "old" }
              ]
            }
            """;

        var result = ConfigLoader.Parse(json, "/etc/mailsync/job.json");

        Assert.False(result.IsValid);
        Assert.Equal(
            [
                "accounts.old.password: a literal password is not allowed; use \"env:NAME\" or \"file:PATH\"",
                "accounts.old.port: must be between 1 and 65535",
                "accounts.old.security",
                "accounts.new.maxConnections: must be between 1 and 32",
                "jobs[0].targt: unknown property \"targt\"; did you mean \"target\"?",
                "jobs[0].target: is required",
                "jobs[1].mode: unknown value \"copy\"; use one of \"migrate\", \"sync\"",
                "jobs[1].include[0]: must not be empty",
                "jobs[1].target: account \"new\" is pop3; the target must be an imap account",
                "jobs[2].name: duplicate job name \"Alice\" (also at jobs[0].name)",
                "jobs[2].source: unknown account \"gone\"",
            ],
            result.Errors.Select(e => e.Location == "accounts.old.security" ? e.Location : e.ToString()));
    }
}
