using System.Diagnostics.CodeAnalysis;

namespace MailSync.Core.Config;

/// <summary>
/// Where a password lives: <c>env:NAME</c> (an environment variable) or <c>file:PATH</c> (a file).
/// Job files may only point at secrets, never contain them, so they can be shared and committed.
/// </summary>
public sealed record SecretRef(string Kind, string Value)
{
    internal const string EnvKind = "env";
    internal const string FileKind = "file";

    /// <summary>
    /// Parses "env:NAME" or "file:PATH" (the prefix is case-insensitive). Anything else, including
    /// a literal password, is rejected.
    /// </summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out SecretRef? secret)
    {
        secret = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (text.StartsWith(EnvKind + ":", StringComparison.OrdinalIgnoreCase))
        {
            var name = text[(EnvKind.Length + 1)..];
            if (name.Length == 0 || name.Contains('=') || name.Any(char.IsWhiteSpace))
            {
                return false;
            }

            secret = new SecretRef(EnvKind, name);
            return true;
        }

        if (text.StartsWith(FileKind + ":", StringComparison.OrdinalIgnoreCase))
        {
            var path = text[(FileKind.Length + 1)..];
            if (path.Trim().Length == 0)
            {
                return false;
            }

            secret = new SecretRef(FileKind, path);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Reads the secret. Failures throw a <see cref="ConfigException"/> that names the reference,
    /// never any secret text. An empty secret counts as missing: it is always a setup mistake.
    /// </summary>
    public string Resolve()
    {
        if (string.Equals(Kind, EnvKind, StringComparison.Ordinal))
        {
            var value = Environment.GetEnvironmentVariable(Value);
            return string.IsNullOrEmpty(value)
                ? throw new ConfigException($"environment variable {Value} is not set or empty")
                : value;
        }

        if (string.Equals(Kind, FileKind, StringComparison.Ordinal))
        {
            return ReadFile();
        }

        throw new ConfigException($"unknown secret kind \"{Kind}\"; use \"env:NAME\" or \"file:PATH\"");
    }

    public override string ToString() => $"{Kind}:{Value}";

    /// <summary>A relative "file:" path means relative to the job file, not to wherever the tool runs.</summary>
    internal SecretRef RelativeTo(string directory) =>
        Kind == FileKind && !Path.IsPathRooted(Value)
            ? this with { Value = Path.GetFullPath(Path.Combine(directory, Value)) }
            : this;

    private string ReadFile()
    {
        string text;
        try
        {
            text = File.ReadAllText(Value);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException($"secret file {Value} does not exist", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new ConfigException($"secret file {Value} cannot be read: {ex.Message}", ex);
        }

        // Editors and `echo` add a final newline that is not part of the password.
        if (text.EndsWith("\r\n", StringComparison.Ordinal))
        {
            text = text[..^2];
        }
        else if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        return text.Length == 0
            ? throw new ConfigException($"secret file {Value} is empty")
            : text;
    }
}
