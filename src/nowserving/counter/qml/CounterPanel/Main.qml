import QtQuick
import QtQuick.Layouts

// The staff panel of one counter: what it did today and the kiosks' alerts (header), its
// customer and the actions (left), who waits and the lobby's notices (right); a transfer
// asks where in a dialog and confirms. Everything comes from the injected `panel`
// (nowserving.counter.panel); long names shrink to fit rather than spill or get cut.
Rectangle {
    id: root
    required property var panel
    readonly property var s: panel.strings
    readonly property real unit: Math.max(9, Math.min(width / 70, height / 45))
    readonly property var ticket: panel.ticket
    readonly property var acts: panel.actions
    readonly property bool hasTicket: ticket.number !== undefined
    property string callReason: "priority"  // for calling a customer out of turn (a code)
    property bool choosingPause: false
    property bool transferOpen: false  // the transfer dialog
    property string transferTo: ""  // the service chosen in it, to confirm
    property int noticeMinutes: 30
    property string noticePreset: ""  // a catalogue notice chosen (posted in every language)
    color: "#111a24"

    function act(name) { return root.acts[name] || {active: false, reason: ""} }

    // ----- header: the counter, its day, the kiosks' alerts -------------------------------
    ColumnLayout {
        id: header
        anchors { left: parent.left; right: parent.right; top: parent.top; margins: root.unit }
        spacing: root.unit * 0.5
        RowLayout {
            Layout.fillWidth: true
            spacing: root.unit
            Text {
                text: root.panel.counterName
                color: "#ffffff"; font.pixelSize: root.unit * 2; font.bold: true
            }
            Rectangle {
                radius: height / 2
                implicitHeight: root.unit * 2.2
                implicitWidth: statusText.implicitWidth + root.unit * 1.6
                color: root.panel.status === "open" ? "#1a7f37"
                     : root.panel.status === "paused" ? "#9a6700" : "#57606a"
                Text {
                    id: statusText
                    anchors.centerIn: parent
                    text: root.s[root.panel.status] || root.panel.status
                    color: "#ffffff"; font.pixelSize: root.unit * 1.1; font.bold: true
                }
            }
            Rectangle {
                visible: !root.panel.online
                radius: height / 2; color: "#b3261e"
                implicitHeight: root.unit * 2.2
                implicitWidth: offline.implicitWidth + root.unit * 1.6
                Text {
                    id: offline
                    anchors.centerIn: parent
                    text: root.s.offline; color: "#ffffff"; font.pixelSize: root.unit * 1.1
                }
            }
            Text {
                objectName: "stats"
                text: root.panel.stats.served + " · " + root.panel.stats.mean
                color: "#c9d1d9"; font.pixelSize: root.unit * 1.1
            }
            Text {
                objectName: "late"
                visible: text !== ""
                text: root.panel.stats.late
                color: "#ffa657"; font.pixelSize: root.unit * 1.1; font.bold: true
            }
            Item { Layout.fillWidth: true }
            StaffBadge { signIn: root.panel.signIn; unit: root.unit }
            Repeater {
                model: root.panel.languages
                delegate: ActionButton {
                    required property var modelData
                    unit: root.unit * 0.8
                    implicitWidth: root.unit * 6
                    implicitHeight: root.unit * 2.6
                    label: modelData.label
                    tint: modelData.code === root.panel.language ? "#30363d" : "#161b22"
                    onClicked: root.panel.setLanguage(modelData.code)
                }
            }
        }
        Flow {  // a kiosk out of paper, offline, ...: someone must go and look
            objectName: "alerts"
            visible: root.panel.alerts.length > 0
            Layout.fillWidth: true
            spacing: root.unit * 0.5
            Repeater {
                model: root.panel.alerts
                delegate: Rectangle {
                    required property string modelData
                    radius: root.unit * 0.4
                    color: "#8e1519"
                    implicitHeight: root.unit * 2
                    implicitWidth: alert.implicitWidth + root.unit * 1.2
                    Text {
                        id: alert
                        anchors.centerIn: parent
                        text: "⚠ " + parent.modelData
                        color: "#ffffff"; font.pixelSize: root.unit * 1.05; font.bold: true
                    }
                }
            }
        }
    }

    RowLayout {
        anchors {
            top: header.bottom; bottom: parent.bottom; left: parent.left; right: parent.right
            margins: root.unit
        }
        spacing: root.unit * 1.5

        // ----- the customer at the counter and the actions ----------------------------------
        ColumnLayout {
            Layout.fillHeight: true
            Layout.preferredWidth: parent.width * 0.44
            Layout.maximumWidth: parent.width * 0.46
            spacing: root.unit * 0.6
            Rectangle {
                Layout.fillWidth: true
                implicitHeight: root.unit * 9
                radius: root.unit * 0.6
                color: "#0d2847"
                Column {
                    anchors.centerIn: parent
                    width: parent.width - root.unit * 2
                    Text {
                        width: parent.width
                        height: root.unit * (root.hasTicket ? 4.6 : 3)
                        text: root.hasTicket ? root.ticket.number : root.s.no_ticket
                        color: root.hasTicket ? "#f5b301" : "#8b949e"
                        font.pixelSize: root.unit * (root.hasTicket ? 4.2 : 1.8)
                        font.bold: true
                        fontSizeMode: Text.Fit; minimumPixelSize: root.unit
                        horizontalAlignment: Text.AlignHCenter
                        verticalAlignment: Text.AlignVCenter
                    }
                    Text {  // its service (long names shrink), what is happening, since when
                        visible: root.hasTicket
                        width: parent.width
                        height: root.unit * 3.2
                        text: root.hasTicket ? root.ticket.service + "\n"
                              + (root.s[root.ticket.status] || root.ticket.status) + " · "
                              + root.ticket.since : ""
                        color: "#c9d1d9"; font.pixelSize: root.unit * 1.3
                        fontSizeMode: Text.Fit; minimumPixelSize: Math.max(8, root.unit * 0.6)
                        wrapMode: Text.Wrap
                        horizontalAlignment: Text.AlignHCenter
                        verticalAlignment: Text.AlignVCenter
                    }
                }
            }
            GridLayout {
                Layout.fillWidth: true
                columns: 3
                rowSpacing: root.unit * 0.5; columnSpacing: root.unit * 0.5
                ActionButton { objectName: "act-next"; Layout.fillWidth: true; unit: root.unit
                    label: root.s.next; tint: "#1a7f37"
                    active: root.act("next").active; note: root.act("next").reason
                    onClicked: root.panel.press("next") }
                ActionButton { objectName: "act-recall"; Layout.fillWidth: true; unit: root.unit
                    label: root.s.recall
                    active: root.act("recall").active; note: root.act("recall").reason
                    onClicked: root.panel.press("recall") }
                ActionButton { objectName: "act-start"; Layout.fillWidth: true; unit: root.unit
                    label: root.s.start
                    active: root.act("start").active; note: root.act("start").reason
                    onClicked: root.panel.press("start") }
                ActionButton { objectName: "act-done"; Layout.fillWidth: true; unit: root.unit
                    label: root.s.done
                    active: root.act("done").active; note: root.act("done").reason
                    onClicked: root.panel.press("done") }
                ActionButton { objectName: "act-no_show"; Layout.fillWidth: true; unit: root.unit
                    label: root.s.no_show; tint: "#a40e26"
                    active: root.act("no_show").active; note: root.act("no_show").reason
                    onClicked: root.panel.press("no_show") }
                ActionButton { objectName: "act-pause"; Layout.fillWidth: true; unit: root.unit
                    label: root.panel.status === "open" ? root.s.pause : root.s.resume
                    tint: "#9a6700"
                    active: root.act("pause").active; note: root.act("pause").reason
                    onClicked: root.panel.status === "open"
                               ? root.choosingPause = !root.choosingPause
                               : root.panel.press("pause") }
                ActionButton { objectName: "act-transfer"; Layout.fillWidth: true
                    Layout.columnSpan: 3; unit: root.unit
                    implicitHeight: root.unit * 3
                    label: root.s.transfer_button; tint: "#30363d"
                    active: root.act("transfer").active; note: root.act("transfer").reason
                    onClicked: { root.transferTo = ""; root.transferOpen = true } }
            }
            Flow {  // a pause needs its reason, shown to customers on the display
                visible: root.choosingPause && root.panel.status === "open"
                Layout.fillWidth: true
                spacing: root.unit * 0.5
                Repeater {
                    model: root.panel.pauseReasons  // codes, put into words here
                    delegate: ActionButton {
                        required property string modelData
                        unit: root.unit * 0.8
                        label: root.s.pause + ": " + root.s["pause_" + modelData]
                        tint: "#9a6700"
                        onClicked: { root.panel.pause(modelData); root.choosingPause = false }
                    }
                }
            }
            Rectangle {  // where the customer went, and a few seconds to take it back
                objectName: "undo-banner"
                visible: root.panel.undo.text !== undefined
                Layout.fillWidth: true
                implicitHeight: root.unit * 3.4
                radius: root.unit * 0.4
                color: "#0c2d6b"
                RowLayout {
                    anchors.fill: parent; anchors.margins: root.unit * 0.4
                    Text {
                        Layout.fillWidth: true; Layout.fillHeight: true
                        text: root.panel.undo.text || ""
                        color: "#ffffff"; font.pixelSize: root.unit * 1.2
                        fontSizeMode: Text.Fit; minimumPixelSize: Math.max(8, root.unit * 0.6)
                        wrapMode: Text.Wrap; verticalAlignment: Text.AlignVCenter
                    }
                    ActionButton {
                        objectName: "undo"
                        unit: root.unit * 0.8
                        implicitWidth: root.unit * 7.5
                        implicitHeight: root.unit * 2.6
                        label: root.panel.undo.label || ""
                        tint: "#1f6feb"
                        onClicked: root.panel.undoTransfer()
                    }
                }
            }
            Text {
                objectName: "message"
                visible: root.panel.message !== ""
                text: root.panel.message
                color: "#ff9492"; font.pixelSize: root.unit * 1.15
                wrapMode: Text.Wrap
                Layout.fillWidth: true
            }
            Item { Layout.fillHeight: true }
        }

        // ----- who waits, and the notices for the lobby -------------------------------------
        ColumnLayout {
            Layout.fillHeight: true
            Layout.fillWidth: true
            spacing: root.unit * 0.5
            Text {
                text: root.s.waiting_title
                color: "#ffffff"; font.pixelSize: root.unit * 1.4; font.bold: true
            }
            Text {
                text: root.panel.counts.map(c => c.name + " · " + c.waiting).join("   ")
                color: "#c9d1d9"; font.pixelSize: root.unit * 1.0
                wrapMode: Text.Wrap; Layout.fillWidth: true
            }
            Row {  // the reason recorded when a customer is called out of turn
                spacing: root.unit * 0.5
                Text {
                    text: root.s.reason_label + ":"
                    color: "#8b949e"; font.pixelSize: root.unit * 1.05
                    anchors.verticalCenter: parent.verticalCenter
                }
                Repeater {
                    model: root.panel.callReasons  // codes, put into words here
                    delegate: ActionButton {
                        required property string modelData
                        unit: root.unit * 0.7
                        implicitWidth: root.unit * 8
                        implicitHeight: root.unit * 2.4
                        label: root.s["reason_" + modelData]
                        tint: root.callReason === modelData ? "#1f6feb" : "#30363d"
                        onClicked: root.callReason = modelData
                    }
                }
            }
            ListView {
                id: list
                objectName: "waiting"
                Layout.fillWidth: true
                Layout.fillHeight: true
                clip: true
                spacing: root.unit * 0.3
                model: root.panel.waiting
                delegate: Rectangle {
                    required property var modelData
                    width: list.width
                    height: root.unit * 3.4
                    radius: root.unit * 0.4
                    color: modelData.late ? "#4d2600" : "#161b22"
                    border.color: modelData.late ? "#ffa657" : "transparent"
                    border.width: 2
                    RowLayout {
                        anchors.fill: parent
                        anchors.leftMargin: root.unit * 0.6; anchors.rightMargin: root.unit * 0.5
                        spacing: root.unit * 0.5
                        Text { text: modelData.number; color: "#f5b301"
                               font.pixelSize: root.unit * 1.4; font.bold: true
                               Layout.preferredWidth: root.unit * 4.2 }
                        Rectangle {  // a priority customer is marked by their class
                            visible: modelData.priorityName !== ""
                            radius: root.unit * 0.3; color: "#6e40c9"
                            Layout.preferredWidth: root.unit * 5.5
                            Layout.preferredHeight: root.unit * 2.6
                            Text {
                                anchors.fill: parent; anchors.margins: root.unit * 0.2
                                text: modelData.priorityName
                                color: "#ffffff"; font.pixelSize: root.unit * 0.95
                                font.bold: true
                                fontSizeMode: Text.Fit; minimumPixelSize: 7
                                wrapMode: Text.Wrap
                                horizontalAlignment: Text.AlignHCenter
                                verticalAlignment: Text.AlignVCenter
                            }
                        }
                        Rectangle {  // an appointment: called at about its booked time
                            objectName: "why-appointment"
                            visible: modelData.appointment !== ""
                            radius: root.unit * 0.3; color: "#0b4f9c"
                            Layout.preferredWidth: root.unit * 5.5
                            Layout.preferredHeight: root.unit * 2.6
                            Text {
                                anchors.fill: parent; anchors.margins: root.unit * 0.2
                                text: modelData.appointment
                                color: "#ffffff"; font.pixelSize: root.unit * 0.95
                                font.bold: true
                                fontSizeMode: Text.Fit; minimumPixelSize: 7
                                wrapMode: Text.Wrap
                                horizontalAlignment: Text.AlignHCenter
                                verticalAlignment: Text.AlignVCenter
                            }
                        }
                        Text {
                            Layout.fillWidth: true; Layout.fillHeight: true
                            text: modelData.waited + "\n" + modelData.service
                            color: modelData.late ? "#ffd8b5" : "#c9d1d9"
                            font.pixelSize: root.unit * 1.05
                            fontSizeMode: Text.Fit; minimumPixelSize: Math.max(7, root.unit * 0.55)
                            verticalAlignment: Text.AlignVCenter
                        }
                        ActionButton {
                            unit: root.unit * 0.7
                            implicitWidth: root.unit * 4.5
                            implicitHeight: root.unit * 2.6
                            label: root.s.call_this  // out of turn, with the chosen reason
                            active: root.panel.status === "open" && !root.hasTicket
                            onClicked: root.panel.callTicket(modelData.id, root.callReason)
                        }
                    }
                }
            }
            Text {
                text: root.s.notice_title
                color: "#8b949e"; font.pixelSize: root.unit * 1.05
            }
            Repeater {  // the notices shown now: until when, and taken down at a touch
                model: root.panel.notices
                delegate: Rectangle {
                    required property var modelData
                    objectName: "notice-" + modelData.id
                    Layout.fillWidth: true
                    implicitHeight: root.unit * 2.4
                    radius: root.unit * 0.3
                    color: "#1c2733"
                    RowLayout {
                        anchors.fill: parent
                        anchors.leftMargin: root.unit * 0.5; anchors.rightMargin: root.unit * 0.3
                        Text {
                            Layout.fillWidth: true; Layout.fillHeight: true
                            text: modelData.text
                            color: "#ffffff"; font.pixelSize: root.unit * 1.0
                            fontSizeMode: Text.Fit; minimumPixelSize: 7
                            verticalAlignment: Text.AlignVCenter
                        }
                        Text {
                            text: modelData.until
                            color: "#8b949e"; font.pixelSize: root.unit * 0.95
                        }
                        ActionButton {
                            objectName: "notice-down-" + modelData.id
                            unit: root.unit * 0.65
                            implicitWidth: root.unit * 4.5
                            implicitHeight: root.unit * 2
                            label: root.s.notice_take_down
                            tint: "#6e7681"
                            onClicked: root.panel.takeDownNotice(modelData.id)
                        }
                    }
                }
            }
            Flow {  // the catalogue's notices: in every language of the branch at once
                Layout.fillWidth: true
                spacing: root.unit * 0.3
                Repeater {
                    model: root.panel.noticePresets
                    delegate: ActionButton {
                        required property var modelData
                        objectName: "notice-preset-" + modelData.key
                        unit: root.unit * 0.6
                        implicitWidth: root.unit * 6.5
                        implicitHeight: root.unit * 2.2
                        label: modelData.label
                        tint: root.noticePreset === modelData.key ? "#1f6feb" : "#30363d"
                        onClicked: {
                            notice.text = modelData.text
                            root.noticePreset = modelData.key
                        }
                    }
                }
            }
            RowLayout {
                Layout.fillWidth: true
                spacing: root.unit * 0.3
                Rectangle {
                    Layout.fillWidth: true
                    implicitHeight: root.unit * 2.6
                    radius: root.unit * 0.4
                    color: "#0d1117"; border.color: "#30363d"
                    TextInput {
                        id: notice
                        objectName: "notice-text"
                        anchors.fill: parent; anchors.margins: root.unit * 0.5
                        color: "#ffffff"; font.pixelSize: root.unit * 1.1
                        clip: true
                        onTextEdited: root.noticePreset = ""  // their own words: this language
                    }
                }
                Repeater {  // how long it stays up
                    model: root.panel.noticeMinutes
                    delegate: ActionButton {
                        required property var modelData
                        objectName: "notice-minutes-" + modelData.minutes
                        unit: root.unit * 0.6
                        implicitWidth: root.unit * 3.6
                        implicitHeight: root.unit * 2.6
                        label: modelData.label
                        tint: root.noticeMinutes === modelData.minutes ? "#1f6feb" : "#30363d"
                        onClicked: root.noticeMinutes = modelData.minutes
                    }
                }
                ActionButton {
                    objectName: "notice-post"
                    unit: root.unit * 0.75
                    implicitWidth: root.unit * 4.5
                    implicitHeight: root.unit * 2.6
                    label: root.s.notice_post
                    onClicked: {
                        if (root.noticePreset !== "")
                            root.panel.postPreset(root.noticePreset, root.noticeMinutes)
                        else
                            root.panel.postNotice(notice.text, root.noticeMinutes)
                        notice.text = ""
                        root.noticePreset = ""
                    }
                }
            }
        }
    }

    // ----- the transfer dialog: the services as a list, then a confirmation --------------
    Rectangle {
        objectName: "transfer-dialog"
        anchors.fill: parent
        visible: root.transferOpen && root.hasTicket
        color: "#d0000000"
        MouseArea { anchors.fill: parent }  // the panel behind does not take touches
        Rectangle {
            anchors.centerIn: parent
            width: parent.width * 0.7
            height: parent.height - root.unit * 3
            radius: root.unit * 0.6
            color: "#161b22"; border.color: "#30363d"
            ColumnLayout {
                anchors.fill: parent; anchors.margins: root.unit
                spacing: root.unit * 0.6
                Text {
                    Layout.fillWidth: true
                    text: root.hasTicket ? root.s.transfer_title.replace("{number}",
                                                                          root.ticket.number) : ""
                    color: "#ffffff"; font.pixelSize: root.unit * 1.5; font.bold: true
                    wrapMode: Text.Wrap
                }
                ListView {
                    id: targets
                    objectName: "transfer-targets"
                    Layout.fillWidth: true; Layout.fillHeight: true
                    clip: true
                    spacing: root.unit * 0.3
                    model: root.panel.transferTargets
                    delegate: ActionButton {
                        required property var modelData
                        objectName: "transfer-to-" + modelData.id
                        width: targets.width
                        unit: root.unit * 0.85
                        implicitHeight: root.unit * 2.8
                        label: modelData.name
                        tint: root.transferTo === modelData.id ? "#1f6feb" : "#30363d"
                        onClicked: root.transferTo = modelData.id
                    }
                }
                Text {
                    objectName: "transfer-question"
                    Layout.fillWidth: true
                    visible: root.transferTo !== ""
                    text: root.transferTo === "" || !root.hasTicket ? ""
                          : root.s.transfer_confirm.replace("{number}", root.ticket.number)
                                .replace("{service}", (root.panel.transferTargets.find(
                                    t => t.id === root.transferTo) || {name: ""}).name)
                    color: "#f5b301"; font.pixelSize: root.unit * 1.2; font.bold: true
                    wrapMode: Text.Wrap
                }
                RowLayout {
                    Layout.fillWidth: true
                    spacing: root.unit
                    ActionButton {
                        objectName: "transfer-yes"
                        Layout.fillWidth: true
                        unit: root.unit
                        implicitHeight: root.unit * 3
                        label: root.s.transfer_yes
                        active: root.transferTo !== ""
                        onClicked: {
                            root.panel.transfer(root.transferTo)
                            root.transferOpen = false
                        }
                    }
                    ActionButton {
                        objectName: "transfer-cancel"
                        Layout.fillWidth: true
                        unit: root.unit
                        implicitHeight: root.unit * 3
                        label: root.s.cancel
                        tint: "#6e7681"
                        onClicked: root.transferOpen = false
                    }
                }
            }
        }
    }

    // ----- staff sign-in (SignIn.qml): over everything while nobody works here ------------
    Loader {
        anchors.fill: parent
        z: 10
        active: root.panel.signIn.shown
        sourceComponent: SignIn { panel: root.panel }
    }
}
