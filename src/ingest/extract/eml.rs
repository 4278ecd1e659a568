//! E-mail (RFC 5322 / MIME): subject, sender and recipients, and the text of the body parts in
//! whatever charset and transfer encoding they came in.

use super::ExtractError;

pub fn to_text(bytes: &[u8]) -> Result<String, ExtractError> {
    let message = mail_parser::MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| ExtractError::Malformed { format: "e-mail", reason: "no RFC 5322 message found".into() })?;
    let mut out = String::new();
    if let Some(subject) = message.subject() {
        out.push_str(subject);
        out.push('\n');
    }
    for (label, addresses) in [("From", message.from()), ("To", message.to()), ("Cc", message.cc())] {
        let Some(addresses) = addresses else { continue };
        let names: Vec<String> = addresses
            .iter()
            .map(|a| match (a.name(), a.address()) {
                (Some(name), Some(address)) => format!("{name} <{address}>"),
                (Some(name), None) => name.to_owned(),
                (None, Some(address)) => address.to_owned(),
                (None, None) => String::new(),
            })
            .collect();
        out.push_str(&format!("{label}: {}\n", names.join(", ")));
    }
    out.push('\n');
    let mut bodies = 0;
    for index in 0.. {
        let Some(body) = message.body_text(index) else { break };
        out.push_str(&body);
        out.push('\n');
        bodies += 1;
    }
    if bodies == 0 {
        for index in 0.. {
            let Some(html) = message.body_html(index) else { break };
            out.push_str(&super::html::to_text(html.as_bytes()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_and_encoded_bodies() {
        let mail = "From: =?UTF-8?B?0JzQsNGA0LrQviDQndC40LrQvtC70LjRmw==?= <marko@mup.gov.rs>\r\n\
                    To: analysts@anaspoc.example\r\n\
                    Subject: =?UTF-8?Q?Procjena_prijetnji_=C5=A1verc?=\r\n\
                    MIME-Version: 1.0\r\n\
                    Content-Type: text/plain; charset=windows-1251\r\n\
                    Content-Transfer-Encoding: quoted-printable\r\n\r\n\
                    =C1=E5=EE=E3=F0=E0=E4 =E8 =CD=E8=F8\r\n";
        let text = super::to_text(mail.as_bytes()).expect("parses");
        assert!(text.contains("Procjena prijetnji šverc"), "{text}");
        assert!(text.contains("Марко Николић <marko@mup.gov.rs>"), "{text}");
        assert!(text.contains("Београд и Ниш"), "{text}");
    }
}
