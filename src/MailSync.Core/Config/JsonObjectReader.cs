using System.Text.Json;

namespace MailSync.Core.Config;

/// <summary>
/// Reads one object of a job file without ever stopping at the first problem: a wrong type,
/// a missing value, an unknown (mistyped) or duplicate property each become a
/// <see cref="ConfigError"/> and reading goes on, so the user sees every problem in one run.
/// Property names match case-insensitively; the locations use the documented camelCase names.
/// </summary>
internal sealed class JsonObjectReader
{
    private readonly Dictionary<string, JsonElement> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ConfigError> _errors;

    private JsonObjectReader(JsonElement element, string location, List<ConfigError> errors, IReadOnlyList<string> knownNames)
    {
        Location = location;
        _errors = errors;
        foreach (var property in element.EnumerateObject())
        {
            var known = knownNames.FirstOrDefault(k => string.Equals(k, property.Name, StringComparison.OrdinalIgnoreCase));
            if (known is null)
            {
                errors.Add(new ConfigError(ConfigPath.Member(location, property.Name), UnknownPropertyMessage(property.Name, knownNames)));
            }
            else if (!_values.TryAdd(known, property.Value))
            {
                Error(known, "is given more than once");
            }
        }
    }

    public string Location { get; }

    /// <summary>Opens <paramref name="element"/> as an object, or reports that it is not one.</summary>
    public static JsonObjectReader? Open(JsonElement element, string location, List<ConfigError> errors, IReadOnlyList<string> knownNames)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new ConfigError(location, "must be an object"));
            return null;
        }

        return new JsonObjectReader(element, location, errors, knownNames);
    }

    public string At(string name) => ConfigPath.Member(Location, name);

    public void Error(string name, string message) => _errors.Add(new ConfigError(At(name), message));

    /// <summary>The raw value; JSON null counts as absent. Reports "is required" when absent and required.</summary>
    public JsonElement? Element(string name, bool required = false)
    {
        if (_values.TryGetValue(name, out var value) && value.ValueKind != JsonValueKind.Null)
        {
            return value;
        }

        if (required)
        {
            Error(name, "is required");
        }

        return null;
    }

    /// <summary>A string that, when given, is not blank.</summary>
    public string? String(string name, bool required = false)
    {
        if (Element(name, required) is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            Error(name, "must be a string");
            return null;
        }

        var text = value.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            Error(name, "must not be empty");
            return null;
        }

        return text;
    }

    public int? Int(string name)
    {
        if (Element(name) is not { } value)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
        {
            Error(name, "must be a whole number");
            return null;
        }

        return number;
    }

    public bool Bool(string name)
    {
        if (Element(name) is not { } value)
        {
            return false;
        }

        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            Error(name, "must be true or false");
            return false;
        }

        return value.GetBoolean();
    }

    /// <summary>An enum written as its lower-cased member name, e.g. "starttls" for <see cref="SecurityMode.StartTls"/>.</summary>
    public T? Enum<T>(string name, bool required = false)
        where T : struct, Enum
    {
        if (Element(name, required) is not { } value)
        {
            return null;
        }

        var allowed = System.Enum.GetValues<T>();
        var text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        foreach (var candidate in allowed)
        {
            if (string.Equals(candidate.ToString(), text, StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        var choices = string.Join(", ", allowed.Select(a => $"\"{a.ToString().ToLowerInvariant()}\""));
        Error(name, text is null ? $"must be one of {choices}" : $"unknown value \"{text}\"; use one of {choices}");
        return null;
    }

    /// <summary>An array of non-blank strings; absent means empty.</summary>
    public IReadOnlyList<string> Strings(string name)
    {
        if (Element(name) is not { } value)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            Error(name, "must be an array of strings");
            return [];
        }

        var result = new List<string>();
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var location = ConfigPath.Index(At(name), index++);
            if (item.ValueKind != JsonValueKind.String)
            {
                _errors.Add(new ConfigError(location, "must be a string"));
            }
            else if (string.IsNullOrWhiteSpace(item.GetString()))
            {
                _errors.Add(new ConfigError(location, "must not be empty"));
            }
            else
            {
                result.Add(item.GetString()!);
            }
        }

        return result.AsReadOnly();
    }

    private static string UnknownPropertyMessage(string name, IReadOnlyList<string> knownNames)
    {
        var closest = knownNames
            .Select(k => (Name: k, Distance: EditDistance(k.ToLowerInvariant(), name.ToLowerInvariant())))
            .MinBy(k => k.Distance);
        return closest.Distance <= 2
            ? $"unknown property \"{name}\"; did you mean \"{closest.Name}\"?"
            : $"unknown property \"{name}\"; known properties are {string.Join(", ", knownNames)}";
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
