using System.Collections.ObjectModel;
using System.Text.Json;

namespace MailSync.Core.Config;

/// <summary>Reads and checks one entry of "jobs".</summary>
internal static class JobReader
{
    private static readonly string[] Properties =
    [
        "name", "mode", "source", "target", "include", "exclude", "renames", "targetPrefix", "targetFolder",
        "deleteFromSource", "deleteOlderThanDays", "targetFlags", "deletions", "deletionGuard",
    ];

    // Two-way sync writes to both sides: what it does with deletions only means something there.
    private static readonly string[] SyncOnly = ["deletions", "deletionGuard"];

    // A POP3 mailbox is one flat list of messages without flags; an IMAP source has a folder tree.
    private static readonly string[] Pop3SourceOnly = ["targetFolder", "deleteFromSource", "deleteOlderThanDays", "targetFlags"];
    private static readonly string[] ImapSourceOnly = ["include", "exclude", "renames", "targetPrefix"];

    /// <param name="accounts">Every declared account (case-insensitive) with its protocol when that could be read.</param>
    /// <param name="jobNames">Job names seen so far, to their locations, for the uniqueness check.</param>
    public static JobConfig? Read(
        JsonElement element,
        string location,
        IReadOnlyDictionary<string, Protocol?> accounts,
        Dictionary<string, string> jobNames,
        List<ConfigError> errors)
    {
        var json = JsonObjectReader.Open(element, location, errors, Properties);
        if (json is null)
        {
            return null;
        }

        var errorsBefore = errors.Count;
        var name = json.String("name", required: true);
        var mode = json.Enum<JobMode>("mode", required: true);
        var source = json.String("source", required: true);
        var target = json.String("target", required: true);
        var include = json.Strings("include");
        var exclude = json.Strings("exclude");
        var renames = ReadRenames(json, errors);
        var targetPrefix = json.String("targetPrefix");
        var targetFolder = json.String("targetFolder");
        var deleteFromSource = json.Bool("deleteFromSource");
        var deleteOlderThanDays = json.Int("deleteOlderThanDays");
        var targetFlags = TargetFlagsReader.Read(json, errors);
        var deletions = json.Enum<Sync.TwoWay.DeletionMode>("deletions");
        var guard = ReadGuard(json, errors);

        if (name is not null)
        {
            CheckName(json, name, jobNames);
        }

        var sourceProtocol = CheckAccount(json, "source", source, accounts);
        if (CheckAccount(json, "target", target, accounts) is { } targetProtocol && targetProtocol != Protocol.Imap)
        {
            json.Error("target", $"account \"{target}\" is {targetProtocol.ToString().ToLowerInvariant()}; the target must be an imap account");
        }

        if (source is not null && target is not null && string.Equals(source, target, StringComparison.OrdinalIgnoreCase))
        {
            json.Error("target", $"source and target are the same account \"{target}\"");
        }

        CheckSourceKind(json, source, sourceProtocol);
        if (mode == JobMode.Sync && sourceProtocol == Protocol.Pop3)
        {
            json.Error("mode", $"\"sync\" needs two imap accounts; account \"{source}\" is pop3 (a POP3 mailbox can only be migrated)");
        }

        if (mode is not null && mode != JobMode.Sync)
        {
            foreach (var property in SyncOnly.Where(p => json.Element(p) is not null))
            {
                json.Error(property, "only for jobs with \"mode\": \"sync\"");
            }
        }

        if (deleteOlderThanDays is < 1 or > 36500)
        {
            json.Error("deleteOlderThanDays", "must be between 1 and 36500");
        }

        // An age limit without deleting would look like it deletes old mail while it deletes nothing.
        // With an imap source the field is refused outright, and asking for deleteFromSource would mislead.
        if (json.Element("deleteOlderThanDays") is not null && !deleteFromSource && IsBoolOrAbsent(json, "deleteFromSource")
            && sourceProtocol != Protocol.Imap)
        {
            json.Error("deleteOlderThanDays", "only applies with \"deleteFromSource\": true");
        }

        if (errors.Count > errorsBefore || name is null || mode is null || source is null || target is null)
        {
            return null;
        }

        return new JobConfig
        {
            Name = name,
            Mode = mode.Value,
            Source = source,
            Target = target,
            Include = include,
            Exclude = exclude,
            Renames = renames,
            TargetPrefix = targetPrefix,
            TargetFolder = targetFolder,
            DeleteFromSource = deleteFromSource,
            DeleteOlderThanDays = deleteOlderThanDays,
            TargetFlags = targetFlags,
            Deletions = deletions ?? Sync.TwoWay.DeletionMode.Propagate,
            DeletionGuard = guard,
        };
    }

    /// <summary>
    /// Refuses the fields that only make sense for the other kind of source. Skipped while the
    /// source's protocol is unknown: that problem is already reported and guessing would add noise.
    /// </summary>
    private static void CheckSourceKind(JsonObjectReader json, string? source, Protocol? sourceProtocol)
    {
        if (sourceProtocol == Protocol.Imap)
        {
            foreach (var name in Pop3SourceOnly.Where(n => json.Element(n) is not null))
            {
                json.Error(name, $"only for jobs with a pop3 source; account \"{source}\" is imap");
            }
        }
        else if (sourceProtocol == Protocol.Pop3)
        {
            foreach (var name in ImapSourceOnly.Where(n => json.Element(n) is not null))
            {
                json.Error(name, $"not for a pop3 source (account \"{source}\"): a POP3 source has a single mailbox; use targetFolder");
            }
        }
    }

    /// <summary>False when the property holds a non-boolean, which was already reported.</summary>
    private static bool IsBoolOrAbsent(JsonObjectReader json, string name) =>
        json.Element(name) is not { } value || value.ValueKind is JsonValueKind.True or JsonValueKind.False;

    private static void CheckName(JsonObjectReader json, string name, Dictionary<string, string> jobNames)
    {
        // The name becomes part of state and log file names, so it must be safe on every OS.
        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-') || name.All(c => c == '.'))
        {
            json.Error("name", $"\"{name}\" may contain only letters, digits, \".\", \"_\" and \"-\"");
        }
        else if (!jobNames.TryAdd(name, json.At("name")))
        {
            json.Error("name", $"duplicate job name \"{name}\" (also at {jobNames[name]})");
        }
    }

    /// <returns>The protocol of the named account when it exists and its protocol is known.</returns>
    private static Protocol? CheckAccount(
        JsonObjectReader json, string property, string? accountName, IReadOnlyDictionary<string, Protocol?> accounts)
    {
        if (accountName is null)
        {
            return null;
        }

        if (!accounts.TryGetValue(accountName, out var protocol))
        {
            json.Error(property, $"unknown account \"{accountName}\"");
            return null;
        }

        return protocol;
    }

    /// <summary>"deletionGuard": { "minMessages": 50, "percent": 10 }; absent means those defaults.</summary>
    private static Sync.TwoWay.DeletionGuardSettings ReadGuard(JsonObjectReader json, List<ConfigError> errors)
    {
        if (json.Element("deletionGuard") is not { } value)
        {
            return Sync.TwoWay.DeletionGuardSettings.Default;
        }

        var guard = JsonObjectReader.Open(value, json.At("deletionGuard"), errors, ["minMessages", "percent"]);
        if (guard is null)
        {
            return Sync.TwoWay.DeletionGuardSettings.Default;
        }

        var min = guard.Int("minMessages");
        var percent = guard.Int("percent");
        if (min is < 0)
        {
            guard.Error("minMessages", "must be 0 or more");
        }

        if (percent is < 0 or > 100)
        {
            guard.Error("percent", "must be between 0 and 100");
        }

        return new Sync.TwoWay.DeletionGuardSettings(min ?? Sync.TwoWay.DeletionGuardSettings.Default.MinMessages, percent ?? Sync.TwoWay.DeletionGuardSettings.Default.Percent);
    }

    private static IReadOnlyDictionary<string, string> ReadRenames(JsonObjectReader json, List<ConfigError> errors)
    {
        if (json.Element("renames") is not { } value)
        {
            return ReadOnlyDictionary<string, string>.Empty;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            json.Error("renames", "must be an object mapping source folder paths to target folder paths");
            return ReadOnlyDictionary<string, string>.Empty;
        }

        // Folder names are case-sensitive on IMAP servers (INBOX aside), so keys compare ordinally.
        var renames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var property in value.EnumerateObject())
        {
            var location = ConfigPath.Member(json.At("renames"), property.Name);
            if (string.IsNullOrWhiteSpace(property.Name))
            {
                errors.Add(new ConfigError(location, "the folder to rename must not be empty"));
            }
            else if (property.Value.ValueKind != JsonValueKind.String)
            {
                errors.Add(new ConfigError(location, "the new folder name must be a string"));
            }
            else if (string.IsNullOrWhiteSpace(property.Value.GetString()))
            {
                errors.Add(new ConfigError(location, "the new folder name must not be empty"));
            }
            else if (!renames.TryAdd(property.Name, property.Value.GetString()!))
            {
                errors.Add(new ConfigError(location, "is given more than once"));
            }
        }

        return renames.AsReadOnly();
    }
}
