namespace MailSync.Tests.Infrastructure;

/// <summary>A mailbox account on a test server; the password is plain text on purpose.</summary>
public sealed record TestUser(string Name, string Password);
