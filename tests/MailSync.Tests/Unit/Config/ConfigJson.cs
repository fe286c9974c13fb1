using System.Text.Json.Nodes;
using MailSync.Core.Config;

namespace MailSync.Tests.Unit.Config;

/// <summary>
/// The minimal job file from the spec, and a way to break it in one place per test so each
/// test shows only the problem it is about.
/// </summary>
internal static class ConfigJson
{
    public const string Minimal = """
        {
          "accounts": {
            "old": { "protocol": "imap", "host": "127.0.0.1", "port": 10143, "security": "none", "user": "src", "password": "env:OLD_PASS" },
            "new": { "protocol": "imap", "host": "127.0.0.1", "port": 10143, "security": "none", "user": "dst", "password": "file:/path/to/secret" }
          },
          "jobs": [ { "name": "alice", "mode": "migrate", "source": "old", "target": "new" } ]
        }
        """;

    /// <summary>
    /// Parses <see cref="Minimal"/> after applying <paramref name="patch"/>: an object whose keys
    /// are paths to objects ("" for the root, "accounts.old", "jobs[0]") and whose values give the
    /// properties to set there, null meaning remove.
    /// </summary>
    public static ConfigLoadResult ParsePatched(string patch, string? filePath = null) =>
        ConfigLoader.Parse(Patch(patch), filePath);

    public static string Patch(string patch)
    {
        var root = JsonNode.Parse(Minimal)!.AsObject();
        foreach (var (path, changes) in JsonNode.Parse(patch)!.AsObject())
        {
            var target = Navigate(root, path);
            foreach (var (name, value) in changes!.AsObject())
            {
                if (value is null)
                {
                    target.Remove(name);
                }
                else
                {
                    target[name] = value.DeepClone();
                }
            }
        }

        return root.ToJsonString();
    }

    private static JsonObject Navigate(JsonObject root, string path)
    {
        JsonNode node = root;
        foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bracket = part.IndexOf('[', StringComparison.Ordinal);
            if (bracket < 0)
            {
                node = node[part]!;
            }
            else
            {
                node = node[part[..bracket]]![int.Parse(part[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture)]!;
            }
        }

        return node.AsObject();
    }
}
