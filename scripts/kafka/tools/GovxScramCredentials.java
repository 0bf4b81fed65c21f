import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.errors.ResourceNotFoundException;

/**
 * Sets, deletes and describes departments' SCRAM-SHA-512 credentials at the broker, as govx (the super user),
 * through Kafka's own Admin API: kafkajs has no AlterUserScramCredentials (decision 0014). Secrets arrive on
 * standard input, never on the command line, and are never printed; the broker derives and keeps only the
 * salted hash.
 *
 *   java -cp TOOLS:LIBS/* GovxScramCredentials BOOTSTRAP MECHANISM USERNAME CA_FILE [CERT_FILE KEY_FILE]
 *
 * Standard input, one item a line: first govx's own password; then any number of requests, each answered by
 * one line on standard output, until standard input ends:
 *   upsert USER ITERATIONS   (USER's new password on the next line)   -> ok
 *   delete USER                                                       -> ok | absent
 *   describe USER                                                     -> credentials SCRAM-SHA-512:8192 … | absent
 * A request the broker refuses or does not answer in time is answered "error <reason>". Exit 2 on bad usage.
 */
public final class GovxScramCredentials {
    private static final ScramMechanism MECHANISM = ScramMechanism.SCRAM_SHA_512;
    private static final long TIMEOUT_SECONDS = 30;

    public static void main(String[] args) throws IOException {
        if (args.length != 4 && args.length != 6) {
            System.err.println("govx-scram: expected BOOTSTRAP MECHANISM USERNAME CA_FILE [CERT_FILE KEY_FILE]");
            System.exit(2);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String govxPassword = in.readLine();
        if (govxPassword == null) System.exit(2);
        try (Admin admin = Admin.create(clientProperties(args, govxPassword))) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                String[] request = line.trim().split(" ");
                String password = request[0].equals("upsert") ? in.readLine() : null;
                out.println(answer(admin, request, password));
            }
        }
    }

    private static String answer(Admin admin, String[] request, String password) {
        try {
            switch (request[0]) {
                case "upsert":
                    if (request.length != 3 || password == null || password.isEmpty()) return "error usage: upsert USER ITERATIONS, then the password";
                    ScramCredentialInfo info = new ScramCredentialInfo(MECHANISM, Integer.parseInt(request[2]));
                    admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(request[1], info, password)))
                        .all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    return "ok";
                case "delete":
                    if (request.length != 2) return "error usage: delete USER";
                    admin.alterUserScramCredentials(List.of(new UserScramCredentialDeletion(request[1], MECHANISM)))
                        .all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    return "ok";
                case "describe":
                    if (request.length != 2) return "error usage: describe USER";
                    List<String> found = new ArrayList<>();
                    for (ScramCredentialInfo i : admin.describeUserScramCredentials(List.of(request[1])).description(request[1])
                            .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).credentialInfos()) {
                        found.add(i.mechanism().mechanismName() + ":" + i.iterations());
                    }
                    return "credentials " + String.join(" ", found);
                default:
                    return "error unknown request " + request[0];
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ResourceNotFoundException) return "absent";
            return "error " + describe(e.getCause());
        } catch (Exception e) {
            return "error " + describe(e);
        }
    }

    private static String describe(Throwable t) {
        String message = t.getMessage() == null ? "" : t.getMessage().replace('\n', ' ');
        return t.getClass().getSimpleName() + ": " + message;
    }

    /** govx's own client settings, as lib/kafka.ts configures kafkajs: TLS against the CA, SASL as govx. */
    private static Properties clientProperties(String[] args, String govxPassword) throws IOException {
        String mechanism = args[1].toUpperCase();
        String module = mechanism.equals("PLAIN")
            ? "org.apache.kafka.common.security.plain.PlainLoginModule"
            : "org.apache.kafka.common.security.scram.ScramLoginModule";
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        p.put("client.id", "govx-scram-credentials");
        p.put("security.protocol", "SASL_SSL");
        p.put("sasl.mechanism", mechanism);
        p.put("sasl.jaas.config", module + " required username=\"" + quoted(args[2]) + "\" password=\"" + quoted(govxPassword) + "\";");
        p.put("ssl.truststore.type", "PEM");
        p.put("ssl.truststore.location", args[3]);
        if (args.length == 6) {
            p.put("ssl.keystore.type", "PEM");
            p.put("ssl.keystore.certificate.chain", Files.readString(Path.of(args[4])));
            p.put("ssl.keystore.key", Files.readString(Path.of(args[5])));
        }
        p.put("request.timeout.ms", "15000");
        p.put("default.api.timeout.ms", "30000");
        return p;
    }

    private static String quoted(String value) {
        return value.replace("\\", "\\\\").replace("\"", "\\\"");
    }
}
