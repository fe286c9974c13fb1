using MailSync.Cli;

return await CliApp.RunAsync(args).ConfigureAwait(false);
