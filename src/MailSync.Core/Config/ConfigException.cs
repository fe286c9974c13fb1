namespace MailSync.Core.Config;

/// <summary>
/// A problem with the configuration found while using it (e.g. a secret that cannot be read),
/// as opposed to the problems <see cref="ConfigLoader"/> reports as <see cref="ConfigError"/>s.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException()
    {
    }

    public ConfigException(string message)
        : base(message)
    {
    }

    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
