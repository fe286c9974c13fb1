using System.Text.Json;

namespace MailSync.Core.Config;

/// <summary>
/// Loads a job file and checks it completely: every problem is reported at once, each at a
/// JSON-path-like location, so a user fixes the file in one round instead of one error per run.
/// </summary>
public static class ConfigLoader
{
    private const string DefaultLocation = "config";

    private static readonly string[] RootProperties = ["accounts", "jobs"];

    // Job files are written by hand: comments and trailing commas are allowed.
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static ConfigLoadResult Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Failed(new ConfigError(path, "file not found"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return Failed(new ConfigError(path, $"cannot read the file: {ex.Message}"));
        }

        return Parse(json, Path.GetFullPath(path), path);
    }

    /// <param name="filePath">Where the JSON came from: relative "file:" secrets resolve against its directory.</param>
    public static ConfigLoadResult Parse(string json, string? filePath = null) =>
        Parse(json, filePath, filePath ?? DefaultLocation);

    /// <summary>
    /// Checks that the password and OAuth2 token of every account these jobs use can be read, without keeping
    /// or reporting any secret. Unknown accounts are skipped: validation already reported them.
    /// </summary>
    public static IReadOnlyList<ConfigError> CheckSecrets(MailSyncConfig config, IEnumerable<JobConfig> jobs)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(jobs);
        var errors = new List<ConfigError>();
        var checkedAccounts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var accountName in jobs.SelectMany(j => new[] { j.Source, j.Target }))
        {
            if (!checkedAccounts.Add(accountName) || !config.Accounts.TryGetValue(accountName, out var account))
            {
                continue;
            }

            CheckSecret(account, "password", account.Password, errors);
            CheckSecret(account, "oauth2Token", account.OAuth2Token, errors);
        }

        return errors.AsReadOnly();
    }

    private static void CheckSecret(AccountConfig account, string property, SecretRef? secret, List<ConfigError> errors)
    {
        try
        {
            _ = secret?.Resolve();
        }
        catch (ConfigException ex)
        {
            var location = ConfigPath.Member(ConfigPath.Member("accounts", account.Name), property);
            errors.Add(new ConfigError(location, ex.Message));
        }
    }

    private static ConfigLoadResult Parse(string json, string? filePath, string fileLocation)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            // A byte-order mark survives in strings read without decoding and is not JSON.
            document = JsonDocument.Parse(json.TrimStart('\uFEFF'), DocumentOptions);
        }
        catch (JsonException ex)
        {
            return Failed(new ConfigError(fileLocation, SyntaxErrorMessage(ex)));
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return Failed(new ConfigError(fileLocation, "must contain a JSON object with \"accounts\" and \"jobs\""));
            }

            var errors = new List<ConfigError>();
            var root = JsonObjectReader.Open(document.RootElement, string.Empty, errors, RootProperties)!;
            var baseDirectory = filePath is null ? null : Path.GetDirectoryName(Path.GetFullPath(filePath));
            var (accounts, protocols) = ReadAccounts(root, baseDirectory, errors);
            var jobs = ReadJobs(root, protocols, errors);
            if (errors.Count > 0)
            {
                return new ConfigLoadResult(null, errors.AsReadOnly());
            }

            var config = new MailSyncConfig { Accounts = accounts.AsReadOnly(), Jobs = jobs.AsReadOnly(), FilePath = filePath };
            return new ConfigLoadResult(config, []);
        }
    }

    private static (Dictionary<string, AccountConfig> Accounts, Dictionary<string, Protocol?> Protocols) ReadAccounts(
        JsonObjectReader root, string? baseDirectory, List<ConfigError> errors)
    {
        // Case-insensitive like the property names, so "Old" and "old" cannot be two accounts.
        var accounts = new Dictionary<string, AccountConfig>(StringComparer.OrdinalIgnoreCase);
        var protocols = new Dictionary<string, Protocol?>(StringComparer.OrdinalIgnoreCase);
        if (root.Element("accounts", required: true) is not { } element)
        {
            return (accounts, protocols);
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            root.Error("accounts", "must be an object mapping account names to accounts");
            return (accounts, protocols);
        }

        foreach (var property in element.EnumerateObject())
        {
            var location = ConfigPath.Member(root.At("accounts"), property.Name);
            if (string.IsNullOrWhiteSpace(property.Name))
            {
                errors.Add(new ConfigError(location, "an account name must not be empty"));
                continue;
            }

            if (protocols.ContainsKey(property.Name))
            {
                errors.Add(new ConfigError(location, $"account \"{property.Name}\" is defined more than once (names are case-insensitive)"));
                continue;
            }

            var account = AccountReader.Read(property.Name, property.Value, location, baseDirectory, errors, out var protocol);
            protocols.Add(property.Name, protocol);
            if (account is not null)
            {
                accounts.Add(property.Name, account);
            }
        }

        return (accounts, protocols);
    }

    private static List<JobConfig> ReadJobs(JsonObjectReader root, Dictionary<string, Protocol?> protocols, List<ConfigError> errors)
    {
        var jobs = new List<JobConfig>();
        if (root.Element("jobs", required: true) is not { } element)
        {
            return jobs;
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            root.Error("jobs", "must be an array of jobs");
            return jobs;
        }

        if (element.GetArrayLength() == 0)
        {
            root.Error("jobs", "must contain at least one job");
            return jobs;
        }

        var jobNames = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var item in element.EnumerateArray())
        {
            var job = JobReader.Read(item, ConfigPath.Index(root.At("jobs"), index++), protocols, jobNames, errors);
            if (job is not null)
            {
                jobs.Add(job);
            }
        }

        return jobs;
    }

    private static string SyntaxErrorMessage(JsonException ex)
    {
        // The reader's message ends with its own 0-based "LineNumber: n | BytePositionInLine: m."; say it 1-based instead.
        var message = ex.Message;
        var suffix = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (suffix >= 0)
        {
            message = message[..suffix];
        }

        return ex.LineNumber is { } line
            ? $"invalid JSON at line {line + 1}, position {(ex.BytePositionInLine ?? 0) + 1}: {message}"
            : $"invalid JSON: {message}";
    }

    private static ConfigLoadResult Failed(ConfigError error) => new(null, [error]);
}
