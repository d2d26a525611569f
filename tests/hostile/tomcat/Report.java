// A servlet on Tomcat that reports what a servlet application resolves, for tests/hostile.rs:
// the servlet path and path info (path parameters such as `;x=1` removed, dot segments
// resolved, decoded), the Host, and the headers a header-trusting app would read.
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

public class Report extends HttpServlet {
    private static String header(HttpServletRequest req, String... names) {
        for (String name : names) {
            String value = req.getHeader(name);
            if (value != null) return value;
        }
        return "";
    }

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
        String info = req.getPathInfo();
        String body = "upstream=tomcat\n"
            + "path=" + req.getServletPath() + (info == null ? "" : info) + "\n"
            + "host=" + header(req, "host") + "\n"
            + "user=" + header(req, "x-auth-user-id") + "\n"
            + "role=" + header(req, "x-auth-user-role") + "\n"
            + "override=" + header(req, "x-original-url", "x-rewrite-url") + "\n"
            + "real_ip=" + header(req, "x-real-ip", "x-client-ip", "true-client-ip") + "\n"
            + "method=" + req.getMethod() + "\n"
            + "method_override="
            + header(req, "x-http-method-override", "x-http-method", "x-method-override") + "\n";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        res.setContentType("text/plain");
        res.setContentLength(bytes.length);
        res.getOutputStream().write(bytes);
    }
}
